/**
 * Makes a result fit the place's upload limit (Discord: the interaction's `attachment_size_limit`
 * or 10 MiB; Slack: SLACK_MAX_UPLOAD_MB). An MP4 over it is re-encoded smaller with the engine's
 * `reencodeSmaller`, with a note that it was reduced. When even that cannot fit (or the result is a
 * GIF), a signed, expiring link to the result is posted instead where PUBLIC_URL is set; elsewhere
 * {@link UploadTooLargeError} says why.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reencodeSmaller, VideoError } from '@stillmotion/engine';
import type { ResultLinks } from '../service/result-links.ts';
import { formatBytes } from './download.ts';

export class UploadTooLargeError extends Error {
  override name = 'UploadTooLargeError';
}

export type FittedUpload =
  | {
      readonly kind: 'upload';
      readonly data: Buffer;
      /** Set when the video was re-encoded. */
      readonly note?: string;
    }
  | {
      /** Too big even re-encoded: post this text (with the signed link) instead of a file. */
      readonly kind: 'link';
      readonly url: string;
      readonly note: string;
    };

/** Leaves room for the message JSON in the multipart body. */
const MULTIPART_MARGIN = 16 * 1024;

function hours(ms: number): string {
  const h = Math.round(ms / 3_600_000);
  return h >= 1 ? `${h} h` : `${Math.max(1, Math.round(ms / 60_000))} min`;
}

export interface FitOptions {
  readonly tmpDir?: string;
  /** With PUBLIC_URL: link to the result when it cannot be uploaded. */
  readonly links?: ResultLinks;
  readonly jobId?: string;
}

export async function fitUpload(
  video: Buffer,
  limit: number,
  format: string,
  opts: FitOptions = {},
): Promise<FittedUpload> {
  const budget = Math.max(limit - MULTIPART_MARGIN, Math.floor(limit * 0.9));
  if (video.byteLength <= budget) return { kind: 'upload', data: video };
  const link = (why: string): FittedUpload | undefined =>
    opts.links && opts.jobId
      ? {
          kind: 'link',
          url: opts.links.url(opts.jobId),
          note: `${why}, so here is a download link instead (it expires in ${hours(opts.links.ttlMs)}): ${opts.links.url(opts.jobId)}`,
        }
      : undefined;
  if (format !== 'mp4') {
    const why = `the ${format} is ${formatBytes(video.byteLength)}, over the ${formatBytes(limit)} upload limit here`;
    const linked = link(why);
    if (linked) return linked;
    throw new UploadTooLargeError(`${why}; try --format mp4 or fewer frames`);
  }
  const dir = await mkdtemp(path.join(opts.tmpDir ?? tmpdir(), 'stillmotion-upload-'));
  try {
    const input = path.join(dir, 'in.mp4');
    const output = path.join(dir, 'out.mp4');
    await writeFile(input, video);
    let data: Buffer | undefined;
    try {
      await reencodeSmaller(input, output, budget);
      data = await readFile(output);
    } catch (err) {
      // It cannot get that small: a link, or the refusal below.
      if (!(err instanceof VideoError)) throw err;
    }
    if (!data || data.byteLength > budget) {
      const why = `the video is ${formatBytes(video.byteLength)} and does not fit the ${formatBytes(limit)} upload limit here even re-encoded`;
      const linked = link(why);
      if (linked) return linked;
      throw new UploadTooLargeError(`the video does not fit the ${formatBytes(limit)} upload limit`);
    }
    const full =
      opts.links && opts.jobId
        ? `; full quality for ${hours(opts.links.ttlMs)}: ${opts.links.url(opts.jobId)}`
        : '';
    return {
      kind: 'upload',
      data,
      note: `(reduced: re-encoded from ${formatBytes(video.byteLength)} to ${formatBytes(data.byteLength)} to fit the ${formatBytes(limit)} upload limit${full})`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
