/**
 * A multipart upload that sends only its first bytes and then waits, over a raw socket: a refusal
 * that is decided before the upload is read answers while the rest of the body is still unsent.
 */
import { connect } from 'node:net';

export const BOUNDARY = 'refusal-test-boundary';
export const part = (name: string, value: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
export const imageHead = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n`;

/**
 * Starts a 20 MB upload and sends only its first bytes, then waits: the answer must come while
 * the rest of the body is still unsent. Resolves with the status line and body, or 'no answer'.
 */
export function startUpload(
  base: string,
  prefix: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer: ${text}`);
    }, 3000);
    socket.on('data', (d) => {
      text += d.toString();
      if (/\r\n\r\n[\s\S]*\}/.test(text)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', () => {});
    const extra = Object.entries(headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.write(
      `POST /v1/jobs HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: 20000000\r\n${extra}\r\n`,
    );
    socket.write(prefix);
    socket.write(Buffer.alloc(64 * 1024, 7)); // the picture has begun; the rest never comes
  });
}
