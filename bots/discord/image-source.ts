/**
 * Finds the picture a user means: an attachment (slash-command option or message attachment) or
 * an image embed (downloaded through its `proxy_url`). Checks what Discord already tells us
 * (host, size, content type) before anything is deferred or downloaded, then downloads under the
 * same rules.
 */
import type { Attachment, Message } from 'discord.js';
import { DownloadError, downloadImage, formatBytes, isAllowedUrl } from '../../src/chat/download.ts';
import type { DiscordConfig } from './config.ts';

export interface ImageRef {
  readonly url: string;
  readonly name: string;
  readonly contentType?: string;
  readonly size?: number;
}

const IMAGE_EXT = /\.(png|jpe?g|webp|gif|avif)$/i;

function isImageAttachment(a: Attachment): boolean {
  return a.contentType ? a.contentType.startsWith('image/') : IMAGE_EXT.test(a.name);
}

export function refOfAttachment(a: Attachment): ImageRef {
  return { url: a.url, name: a.name, contentType: a.contentType ?? undefined, size: a.size };
}

export interface MessageImages {
  readonly images: readonly ImageRef[];
  /** Attachments that are not pictures (to say why nothing was used). */
  readonly others: readonly ImageRef[];
}

/** Pictures of a message in order: image attachments, then image embeds (via proxy_url). */
export function imagesOfMessage(message: Message): MessageImages {
  const images: ImageRef[] = [];
  const others: ImageRef[] = [];
  for (const a of message.attachments.values())
    (isImageAttachment(a) ? images : others).push(refOfAttachment(a));
  for (const embed of message.embeds) {
    const media = embed.image ?? embed.thumbnail;
    const url = media?.proxyURL ?? undefined;
    if (url) images.push({ url, name: new URL(url).pathname.split('/').pop() || 'image' });
  }
  return { images, others };
}

/** Refuses what Discord's metadata already shows to be off-list, too large or not a picture. */
export function precheckImage(ref: ImageRef, config: DiscordConfig): void {
  let url: URL;
  try {
    url = new URL(ref.url);
  } catch (err) {
    throw new DownloadError('bad_url', 'the picture link is not a valid URL', { cause: err });
  }
  if (!isAllowedUrl(url, config.attachmentHosts)) {
    throw new DownloadError(
      'host_not_allowed',
      `pictures can only be downloaded from ${config.attachmentHosts.join(', ')}`,
    );
  }
  if (ref.size !== undefined && ref.size > config.maxImageBytes) {
    throw new DownloadError(
      'too_large',
      `"${ref.name}" is ${formatBytes(ref.size)}, over the ${formatBytes(config.maxImageBytes)} limit`,
    );
  }
  if (ref.contentType && !ref.contentType.startsWith('image/')) {
    throw new DownloadError('not_image', `"${ref.name}" is ${ref.contentType}`);
  }
  if (!ref.contentType && !IMAGE_EXT.test(ref.name) && ref.size !== undefined) {
    throw new DownloadError('not_image', `"${ref.name}" has no picture type`);
  }
}

export async function fetchImage(ref: ImageRef, config: DiscordConfig): Promise<Buffer> {
  precheckImage(ref, config);
  const { bytes } = await downloadImage(ref.url, {
    allowedHosts: config.attachmentHosts,
    maxBytes: config.maxImageBytes,
    timeoutMs: config.downloadTimeoutMs,
  });
  return bytes;
}
