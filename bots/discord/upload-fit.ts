/**
 * Makes a result fit the place's upload limit: the interaction's `attachment_size_limit`, or
 * 10 MiB. An MP4 over it is re-encoded smaller with the engine's `reencodeSmaller`, with a note.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reencodeSmaller } from '@stillmotion/engine';
import { formatBytes } from '../../src/chat/download.ts';

export class UploadTooLargeError extends Error {
  override name = 'UploadTooLargeError';
}

export interface FittedUpload {
  readonly data: Buffer;
  /** Set when the video was re-encoded. */
  readonly note?: string;
}

/** Leaves room for the message JSON in the multipart body. */
const MULTIPART_MARGIN = 16 * 1024;

export async function fitUpload(
  video: Buffer,
  limit: number,
  format: string,
  tmpDir?: string,
): Promise<FittedUpload> {
  const budget = Math.max(limit - MULTIPART_MARGIN, Math.floor(limit * 0.9));
  if (video.byteLength <= budget) return { data: video };
  if (format !== 'mp4') {
    throw new UploadTooLargeError(
      `the ${format} is ${formatBytes(video.byteLength)}, over the ${formatBytes(limit)} upload limit here; try --format mp4 or fewer frames`,
    );
  }
  const dir = await mkdtemp(path.join(tmpDir ?? tmpdir(), 'stillmotion-discord-'));
  try {
    const input = path.join(dir, 'in.mp4');
    const output = path.join(dir, 'out.mp4');
    await writeFile(input, video);
    await reencodeSmaller(input, output, budget);
    const data = await readFile(output);
    if (data.byteLength > budget)
      throw new UploadTooLargeError(`the video does not fit the ${formatBytes(limit)} upload limit`);
    return {
      data,
      note: `(re-encoded from ${formatBytes(video.byteLength)} to ${formatBytes(data.byteLength)} to fit the ${formatBytes(limit)} upload limit)`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
