/**
 * Downloads a picture a chat user pointed at, only from allowed hosts (`ATTACHMENT_HOSTS`), with a
 * size cap, a timeout and a content-type + magic-byte check. Redirects are followed by hand so that
 * each hop is checked against the list again. Credentials (a Slack bot token) go only to the hosts
 * named with them, and never again once a redirect has left those hosts.
 */

export type DownloadErrorCode =
  | 'host_not_allowed'
  | 'bad_url'
  | 'too_large'
  | 'timeout'
  | 'not_image'
  | 'http_error'
  | 'too_many_redirects';

export class DownloadError extends Error {
  override name = 'DownloadError';
  readonly code: DownloadErrorCode;
  constructor(code: DownloadErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

export const DEFAULT_ATTACHMENT_HOSTS: readonly string[] = [
  'cdn.discordapp.com',
  'media.discordapp.net',
  'files.slack.com',
];

/** Parses `ATTACHMENT_HOSTS` (comma list of `host` or `host:port`); empty or unset gives the defaults. */
export function parseHostList(value: string | undefined): readonly string[] {
  const list = (value ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  return list.length > 0 ? list : DEFAULT_ATTACHMENT_HOSTS;
}

/**
 * The largest picture the bots fetch, in bytes: the job service's default upload limit (20 MB,
 * `MAX_UPLOAD_MB` × 10⁶). Decimal megabytes, like the service, so nothing is downloaded only to be refused.
 */
export const DEFAULT_MAX_IMAGE_BYTES = 20_000_000;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `host` or `host:port`, lower case: what host lists hold. */
function hostKey(url: URL): string {
  const hostname = url.hostname.toLowerCase();
  return url.port ? `${hostname}:${url.port}` : hostname;
}

/**
 * True when `url` may be fetched: https (or http to a loopback host) and its host listed. An entry
 * without a port matches only the scheme's default port; `host:port` matches exactly.
 */
export function isAllowedUrl(url: URL, hosts: readonly string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(hostname))) return false;
  return hosts.includes(hostKey(url));
}

/** Headers that prove who the bot is (a bot token), and the only hosts that may see them. */
export interface Credentials {
  readonly headers: Readonly<Record<string, string>>;
  /** `host` or `host:port` entries, matched like {@link isAllowedUrl}. */
  readonly hosts: readonly string[];
}

export interface DownloadOptions {
  readonly allowedHosts: readonly string[];
  /** @default {@link DEFAULT_MAX_IMAGE_BYTES} (the job service's upload limit) */
  readonly maxBytes?: number;
  /** Whole download, redirects included. @default 15000 */
  readonly timeoutMs?: number;
  /** @default 5 */
  readonly maxRedirects?: number;
  /**
   * Sent on a hop only while every hop so far, this one included, is on `credentials.hosts`: a
   * redirect to another host (even an allowed one) drops them for the rest of the download.
   */
  readonly credentials?: Credentials;
}

export interface Downloaded {
  readonly bytes: Buffer;
  readonly contentType: string;
  readonly url: string;
}

const IMAGE_TYPES = new Set([
  'image/png',
  'image/jpeg',
  'image/jpg',
  'image/webp',
  'image/gif',
  'image/avif',
]);

/** The image format from its first bytes, or undefined (SVG, HTML, anything else). */
export function sniffImage(bytes: Uint8Array): 'png' | 'jpeg' | 'gif' | 'webp' | 'avif' | undefined {
  const ascii = (from: number, to: number) => Buffer.from(bytes.subarray(from, to)).toString('latin1');
  if (bytes[0] === 0x89 && ascii(1, 4) === 'PNG') return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (ascii(0, 4) === 'GIF8') return 'gif';
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(4, 8) === 'ftyp' && /^avi[fs]$/.test(ascii(8, 12))) return 'avif';
  return undefined;
}

/** Fetches `url` under the rules above; throws {@link DownloadError} saying why it refused. */
export async function downloadImage(url: string, options: DownloadOptions): Promise<Downloaded> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const maxRedirects = options.maxRedirects ?? 5;
  const signal = AbortSignal.timeout(options.timeoutMs ?? 15_000);
  let current: URL;
  try {
    current = new URL(url);
  } catch (err) {
    throw new DownloadError('bad_url', 'the picture link is not a valid URL', { cause: err });
  }
  let trusted = options.credentials !== undefined;
  for (let hop = 0; ; hop++) {
    if (!isAllowedUrl(current, options.allowedHosts)) {
      throw new DownloadError(
        'host_not_allowed',
        `pictures can only be downloaded from ${options.allowedHosts.join(', ')}`,
      );
    }
    trusted &&= options.credentials!.hosts.includes(hostKey(current));
    const headers = trusted ? { ...options.credentials!.headers } : {};
    let res: Response;
    try {
      res = await fetch(current, { redirect: 'manual', signal, headers });
    } catch (err) {
      if (signal.aborted)
        throw new DownloadError('timeout', 'the picture took too long to download', { cause: err });
      throw new DownloadError('http_error', 'the picture could not be downloaded', { cause: err });
    }
    if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
      await res.body?.cancel();
      if (hop >= maxRedirects)
        throw new DownloadError('too_many_redirects', 'the picture link redirects too often');
      current = new URL(res.headers.get('location')!, current);
      continue;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new DownloadError('http_error', `the picture could not be downloaded (HTTP ${res.status})`);
    }
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (!IMAGE_TYPES.has(contentType)) {
      await res.body?.cancel();
      throw new DownloadError('not_image', `that file is not a picture (${contentType || 'unknown type'})`);
    }
    const declared = Number(res.headers.get('content-length') ?? Number.NaN);
    if (declared > maxBytes) {
      await res.body?.cancel();
      throw new DownloadError('too_large', `the picture is larger than ${formatBytes(maxBytes)}`);
    }
    const bytes = await readCapped(res, maxBytes, signal);
    if (!sniffImage(bytes))
      throw new DownloadError('not_image', 'that file is not a PNG, JPEG, WebP, GIF or AVIF picture');
    return { bytes, contentType, url: current.toString() };
  }
}

async function readCapped(res: Response, maxBytes: number, signal: AbortSignal): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let part: ReadableStreamReadResult<Uint8Array>;
    try {
      part = await reader.read();
    } catch (err) {
      if (signal.aborted)
        throw new DownloadError('timeout', 'the picture took too long to download', { cause: err });
      throw new DownloadError('http_error', 'the picture download broke off', { cause: err });
    }
    if (part.done) return Buffer.concat(chunks);
    total += part.value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      throw new DownloadError('too_large', `the picture is larger than ${formatBytes(maxBytes)}`);
    }
    chunks.push(part.value);
  }
}

/** Decimal units, as the job service counts them: 20 000 000 bytes is `20 MB`. */
export function formatBytes(n: number): string {
  if (n >= 1_000_000) return `${Math.round(n / 100_000) / 10} MB`;
  if (n >= 1000) return `${Math.round(n / 1000)} KB`;
  return `${n} B`;
}
