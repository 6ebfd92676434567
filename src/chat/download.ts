/**
 * Downloads a picture a chat user pointed at, only from allowed hosts (`ATTACHMENT_HOSTS`), with a
 * size cap, a timeout and a content-type + magic-byte check. Redirects are followed by hand so that
 * each hop is checked against the list again; extra headers (a Slack bot token) therefore only ever
 * reach allowed hosts.
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

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * True when `url` may be fetched: https (or http to a loopback host) and its host listed. An entry
 * without a port matches only the scheme's default port; `host:port` matches exactly.
 */
export function isAllowedUrl(url: URL, hosts: readonly string[]): boolean {
  const hostname = url.hostname.toLowerCase();
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(hostname))) return false;
  const host = url.port ? `${hostname}:${url.port}` : hostname;
  return hosts.includes(host);
}

export interface DownloadOptions {
  readonly allowedHosts: readonly string[];
  /** @default 20 MiB (the job service's upload limit) */
  readonly maxBytes?: number;
  /** Whole download, redirects included. @default 15000 */
  readonly timeoutMs?: number;
  /** @default 5 */
  readonly maxRedirects?: number;
  /** Sent on every hop (all hops are allowed hosts), e.g. `Authorization` for Slack. */
  readonly headers?: Readonly<Record<string, string>>;
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
  const maxBytes = options.maxBytes ?? 20 * 1024 * 1024;
  const maxRedirects = options.maxRedirects ?? 5;
  const signal = AbortSignal.timeout(options.timeoutMs ?? 15_000);
  let current: URL;
  try {
    current = new URL(url);
  } catch (err) {
    throw new DownloadError('bad_url', 'the picture link is not a valid URL', { cause: err });
  }
  for (let hop = 0; ; hop++) {
    if (!isAllowedUrl(current, options.allowedHosts)) {
      throw new DownloadError(
        'host_not_allowed',
        `pictures can only be downloaded from ${options.allowedHosts.join(', ')}`,
      );
    }
    let res: Response;
    try {
      res = await fetch(current, { redirect: 'manual', signal, headers: { ...options.headers } });
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

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / 1024 / 1024) * 10) / 10} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} B`;
}
