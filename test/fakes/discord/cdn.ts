/**
 * A local CDN for attachments: serves registered files with their content type, and can answer
 * with a redirect. Listed in ATTACHMENT_HOSTS as `127.0.0.1:<port>` by the tests.
 */
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

interface CdnFile {
  readonly data: Buffer;
  readonly contentType: string;
}

export class FakeCdn {
  readonly #server: Server;
  readonly #files = new Map<string, CdnFile>();
  readonly #redirects = new Map<string, string>();
  /** Paths requested, in order. */
  readonly requests: string[] = [];
  host = '';

  constructor() {
    this.#server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      this.requests.push(path);
      const to = this.#redirects.get(path);
      if (to) {
        res.writeHead(302, { location: to }).end();
        return;
      }
      const file = this.#files.get(path);
      if (!file) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res
        .writeHead(200, { 'content-type': file.contentType, 'content-length': file.data.byteLength })
        .end(file.data);
    });
  }

  async start(): Promise<this> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    this.host = `127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** Serves `data` at `/attachments/<name>` and returns its URL. */
  add(name: string, data: Buffer, contentType: string): string {
    const path = `/attachments/${Date.now()}-${this.#files.size}/${name}`;
    this.#files.set(path, { data, contentType });
    return `http://${this.host}${path}`;
  }

  /** Answers `/r/<name>` with a redirect to `to`; returns its URL. */
  redirect(name: string, to: string): string {
    const path = `/r/${name}`;
    this.#redirects.set(path, to);
    return `http://${this.host}${path}`;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    this.#server.close();
    await once(this.#server, 'close');
  }
}
