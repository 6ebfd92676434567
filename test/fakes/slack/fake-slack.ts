/**
 * A fake Slack for tests: the Web API under `/api/` (what Bolt's WebClient reaches through
 * `clientOptions.slackApiUrl`), Socket Mode over `ws` (see socket.ts), private file downloads that
 * need the bot token (without it: HTTP 200 and an HTML sign-in page, as Slack does), and a second
 * "files host" for uploads and off-list redirects.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bearer, parseArgs, readBody, sendJson } from './http-util.ts';
import { FakeSocketMode } from './socket.ts';
import { type ApiContext, type Args, METHODS } from './web-api.ts';
import { type FakeFile, Workspace } from './workspace.ts';

export interface RecordedCall {
  readonly method: string;
  readonly args: Args;
  readonly token: string | undefined;
  readonly at: number;
}

export interface Download {
  readonly host: string;
  readonly path: string;
  readonly authorized: boolean;
  readonly status: number;
}

export interface FakeSlackOptions {
  readonly botToken?: string;
  readonly appToken?: string;
  readonly teamId?: string;
}

const SIGN_IN_PAGE =
  '<!DOCTYPE html><html><head><title>Slack</title></head><body>Sign in to Fake Team</body></html>';

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
  });
}

export class FakeSlack {
  readonly botToken: string;
  readonly appToken: string;
  readonly botUserId = 'U0STILLBOT';
  readonly ws: Workspace;
  readonly socket = new FakeSocketMode();
  readonly calls: RecordedCall[] = [];
  readonly downloads: Download[] = [];
  readonly uploads: Array<{ file_id: string; bytes: Buffer; authorized: boolean }> = [];
  /** A workspace's file size limit: bigger uploads are refused with 413. */
  maxUploadBytes: number | undefined;
  readonly responses: Array<{ id: string; body: Record<string, unknown> }> = [];
  /** Methods that answer `{ok: false, error: 'service_unavailable'}`, to play a Slack outage. */
  readonly outage = new Set<string>();
  /** Base of the Web API, for SLACK_API_URL. */
  apiUrl = '';
  /** This server's origin (API, files, Socket Mode). */
  origin = '';
  /** A second host: upload URLs and redirect targets that are not on the allow-list. */
  otherOrigin = '';
  readonly #main: Server;
  readonly #other: Server;
  readonly #ctx: ApiContext;

  private constructor(opts: FakeSlackOptions) {
    this.botToken = opts.botToken ?? 'xoxb-fake-bot-token';
    this.appToken = opts.appToken ?? 'xapp-fake-app-token';
    this.ws = new Workspace(opts.teamId ?? 'T0FAKE');
    this.#main = createServer((req, res) => void this.#route(req, res, 'main'));
    this.#other = createServer((req, res) => void this.#route(req, res, 'other'));
    this.#main.on('upgrade', (req, sock, head) => this.socket.handleUpgrade(req, sock, head));
    this.#ctx = {
      ws: this.ws,
      origin: '',
      uploadOrigin: '',
      botUserId: this.botUserId,
      pendingUploads: new Map(),
      views: new Map(),
      triggers: new Map(),
      issueSocketUrl: () => this.socket.issueUrl(this.origin),
    };
  }

  static async start(opts: FakeSlackOptions = {}): Promise<FakeSlack> {
    const fake = new FakeSlack(opts);
    fake.origin = await listen(fake.#main);
    fake.otherOrigin = await listen(fake.#other);
    fake.apiUrl = `${fake.origin}/api/`;
    fake.#ctx.origin = fake.origin;
    fake.#ctx.uploadOrigin = fake.otherOrigin;
    return fake;
  }

  /** The `host:port` of the main server, for ATTACHMENT_HOSTS. */
  get host(): string {
    return new URL(this.origin).host;
  }

  get views(): Map<string, Record<string, unknown>> {
    return this.#ctx.views;
  }

  /** A fresh trigger_id, valid once for 3 s like Slack's. */
  issueTrigger(): string {
    const id = `${Date.now()}.${this.ws.nextId('TR')}`;
    this.#ctx.triggers.set(id, { issuedAt: Date.now(), used: false });
    return id;
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Extra context for a waitFor timeout (a test rig sets it to its recent log lines). */
  diagnose: () => string = () => '';

  /** Polls until `check` returns a truthy value (or throws on timeout with `what`). */
  async waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 60_000): Promise<T> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v) return v;
      if (Date.now() > end) {
        const recent = this.calls.slice(-6).map((c) => `${c.method} ${JSON.stringify(c.args).slice(0, 200)}`);
        throw new Error(
          `timed out waiting for ${what}\nlast calls:\n${recent.join('\n')}\n${this.diagnose()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /**
   * Adds a file to the workspace, served at url_private_download. `redirect` serves instead a 302 to
   * that URL (to test redirects); `host: 'other'` serves it from the second host.
   */
  addFile(f: {
    name: string;
    mimetype: string;
    data: Buffer;
    user?: string;
    redirect?: string;
    host?: 'main' | 'other';
  }): FakeFile {
    const id = this.ws.nextId('F');
    const origin = f.host === 'other' ? this.otherOrigin : this.origin;
    const ext = f.name.split('.').pop() ?? '';
    const file: FakeFile = {
      id,
      name: f.name,
      mimetype: f.mimetype,
      filetype: ext,
      size: f.data.length,
      url_private: `${origin}/files-pri/${this.ws.teamId}-${id}/${f.name}`,
      url_private_download: f.redirect
        ? `${origin}/redirect/${encodeURIComponent(f.redirect)}`
        : `${origin}/files-pri/${this.ws.teamId}-${id}/download/${f.name}`,
      user: f.user ?? 'U0ALICE',
      data: f.data,
    };
    this.ws.files.set(id, file);
    return file;
  }

  async close(): Promise<void> {
    this.socket.close();
    this.#main.closeAllConnections();
    this.#other.closeAllConnections();
    await Promise.all([new Promise((r) => this.#main.close(r)), new Promise((r) => this.#other.close(r))]);
  }

  async #route(req: IncomingMessage, res: ServerResponse, which: 'main' | 'other'): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      if (which === 'main' && req.method === 'POST' && url.pathname.startsWith('/api/')) {
        return await this.#api(url.pathname.slice('/api/'.length), req, res);
      }
      if (req.method === 'GET' && url.pathname.startsWith('/files-pri/'))
        return this.#download(url, req, res);
      if (req.method === 'GET' && url.pathname.startsWith('/redirect/')) {
        this.downloads.push({
          host: req.headers.host ?? '',
          path: url.pathname,
          authorized: !!bearer(req),
          status: 302,
        });
        res.writeHead(302, { location: decodeURIComponent(url.pathname.slice('/redirect/'.length)) });
        return void res.end();
      }
      if (which === 'other' && req.method === 'POST' && url.pathname.startsWith('/upload/v1/')) {
        return await this.#upload(url.pathname.slice('/upload/v1/'.length), req, res);
      }
      if (req.method === 'POST' && url.pathname.startsWith('/respond/')) {
        const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as Record<string, unknown>;
        this.responses.push({ id: url.pathname.slice('/respond/'.length), body });
        return sendJson(res, 200, { ok: true });
      }
      res.writeHead(404).end();
    } catch (err) {
      sendJson(res, 500, { ok: false, error: String(err) });
    }
  }

  async #api(method: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const args = parseArgs(req.headers['content-type'], await readBody(req));
    const token = bearer(req) ?? (typeof args.token === 'string' ? args.token : undefined);
    this.calls.push({ method, args, token, at: Date.now() });
    const wanted = method === 'apps.connections.open' ? this.appToken : this.botToken;
    if (token !== wanted) return sendJson(res, 200, { ok: false, error: 'invalid_auth' });
    if (this.outage.has(method)) return sendJson(res, 200, { ok: false, error: 'service_unavailable' });
    const impl = METHODS[method];
    if (!impl) return sendJson(res, 200, { ok: false, error: 'unknown_method' });
    sendJson(res, 200, impl(this.#ctx, args));
  }

  #download(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const m = /^\/files-pri\/[^-/]+-([^/]+)\//.exec(url.pathname);
    const file = m ? this.ws.files.get(m[1]!) : undefined;
    const authorized = bearer(req) === this.botToken;
    const host = req.headers.host ?? '';
    if (!authorized) {
      // Slack answers an unauthenticated download with 200 and its sign-in page, not a 401.
      this.downloads.push({ host, path: url.pathname, authorized, status: 200 });
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(SIGN_IN_PAGE);
    }
    if (!file) {
      this.downloads.push({ host, path: url.pathname, authorized, status: 404 });
      return void res.writeHead(404).end();
    }
    this.downloads.push({ host, path: url.pathname, authorized, status: 200 });
    res.writeHead(200, { 'content-type': file.mimetype, 'content-length': file.data.length });
    res.end(file.data);
  }

  async #upload(fileId: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pending = this.#ctx.pendingUploads.get(fileId);
    const raw = await readBody(req);
    const request = new Request('http://x/', {
      method: 'POST',
      headers: { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' },
      body: new Uint8Array(raw),
    });
    let bytes = raw;
    if (req.headers['content-type']?.startsWith('multipart/form-data')) {
      const form = await request.formData();
      let part: Blob | undefined;
      form.forEach((v) => {
        if (typeof v !== 'string') part ??= v;
      });
      bytes = part ? Buffer.from(await part.arrayBuffer()) : Buffer.alloc(0);
    }
    this.uploads.push({ file_id: fileId, bytes, authorized: !!bearer(req) });
    if (this.maxUploadBytes !== undefined && bytes.length > this.maxUploadBytes) {
      res.writeHead(413, { 'content-type': 'text/plain' });
      return void res.end('file too large');
    }
    if (!pending || bytes.length !== pending.length) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return void res.end('bad upload');
    }
    pending.data = bytes;
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`OK - ${bytes.length}`);
  }
}
