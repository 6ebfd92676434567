/**
 * Slack files in and out: pick the picture from a message's files, look a file up, download it from
 * `url_private_download` with the bot token (the shared downloader sends it only to Slack's own
 * hosts, never across a redirect away from them, and checks size, type and magic bytes), and upload
 * a result with files.uploadV2.
 */
import type { webApi } from '@slack/bolt';
import { DownloadError, downloadImage, formatBytes } from '../../src/chat/index.ts';
import type { SlackConfig } from './config.ts';

export interface SlackFile {
  readonly id: string;
  readonly name?: string;
  readonly mimetype?: string;
  readonly size?: number;
  readonly url_private_download?: string;
}

export interface PickedImage {
  readonly file: SlackFile;
  /** Set when the message had several pictures: the reply says the first was used. */
  readonly note?: string;
}

const isImage = (f: SlackFile) => (f.mimetype ?? '').toLowerCase().startsWith('image/');

/**
 * The first picture among `files`; undefined when there are no files at all. Throws a
 * DownloadError(not_image) when files are there but none is a picture.
 */
export function pickImage(files: readonly SlackFile[] | undefined): PickedImage | undefined {
  if (!files || files.length === 0) return undefined;
  const images = files.filter(isImage);
  if (images.length === 0) {
    const f = files[0]!;
    throw new DownloadError('not_image', `“${f.name ?? f.id}” is ${f.mimetype ?? 'not a picture'}`);
  }
  const note =
    images.length > 1
      ? `That message has ${images.length} pictures; I used the first, “${images[0]!.name ?? images[0]!.id}”.`
      : undefined;
  return { file: images[0]!, note };
}

/** files.info, for a file known only by id (modal file_input, shortcut metadata, Reroll). */
export async function fileInfo(client: webApi.WebClient, id: string): Promise<SlackFile> {
  const res = await client.files.info({ file: id });
  if (!res.file?.id) throw new DownloadError('http_error', 'Slack did not return that file');
  return res.file as SlackFile;
}

/** Downloads a Slack picture with the bot token; throws DownloadError saying why it refused. */
export async function downloadSlackImage(config: SlackConfig, file: SlackFile): Promise<Buffer> {
  if (!isImage(file))
    throw new DownloadError('not_image', `“${file.name ?? file.id}” is ${file.mimetype ?? 'not a picture'}`);
  if (file.size !== undefined && file.size > config.maxImageBytes) {
    throw new DownloadError(
      'too_large',
      `“${file.name ?? file.id}” is over ${formatBytes(config.maxImageBytes)}`,
    );
  }
  if (!file.url_private_download) throw new DownloadError('bad_url', 'that file has no download link');
  const got = await downloadImage(file.url_private_download, {
    allowedHosts: config.attachmentHosts,
    maxBytes: config.maxImageBytes,
    credentials: { headers: { Authorization: `Bearer ${config.botToken}` }, hosts: config.tokenHosts },
  });
  return got.bytes;
}

/** Uploads a result into a thread; answers the new file's id. */
export async function uploadResult(
  client: webApi.WebClient,
  args: {
    channel: string;
    thread_ts: string;
    bytes: Buffer;
    filename: string;
    comment: string;
    title: string;
  },
): Promise<string | undefined> {
  const res = await client.filesUploadV2({
    channel_id: args.channel,
    thread_ts: args.thread_ts,
    file: args.bytes,
    filename: args.filename,
    title: args.title,
    initial_comment: args.comment,
  });
  const done = res.files as unknown as Array<{ files?: Array<{ id?: string }> }>;
  return done?.[0]?.files?.[0]?.id;
}
