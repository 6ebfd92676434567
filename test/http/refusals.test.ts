/**
 * Cheap refusals (issue 10, item 4): caps and rate limits decided before the upload is read,
 * SSE streams capped per caller, in total and in lifetime, slow clients cut off, multipart
 * limits. Real sidecar (tiny model, not warmed: jobs wait), real sockets.
 */
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppOptions, buildApp, REQUEST_TIMEOUT_MS } from '../../src/http/app.ts';
import { type Listening, listen } from '../../src/http/server.ts';
import { ADMIN_TOKEN, type Body, type Harness, png, postJob, startHarness } from './harness.ts';

const BOUNDARY = 'refusal-test-boundary';
const part = (name: string, value: string) =>
  `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
const imageHead = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="image"; filename="p.png"\r\nContent-Type: image/png\r\n\r\n`;

/**
 * Starts a 20 MB upload and sends only its first bytes, then waits: the answer must come while
 * the rest of the body is still unsent. Resolves with the status line and body, or 'no answer'.
 */
function startUpload(base: string, prefix: string, headers: Record<string, string> = {}): Promise<string> {
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

describe('cheap refusals', () => {
  let h: Harness;
  let server: Listening;
  let base: string;
  const inputs = () => readdirSync(h.sidecar.journal.inputsDir).length;

  beforeAll(async () => {
    h = await startHarness({ perUser: 1 }, { warm: false });
    const app = await buildApp({
      service: h.sidecar.service,
      info: { model: h.sidecar.service.model, ready: () => false, provider: () => undefined },
      logger: h.app.log as AppOptions['logger'],
      adminToken: ADMIN_TOKEN,
      playground: false,
      limits: { submitsPerMinute: 4, streams: { perCaller: 2, total: 3, maxMs: 600 }, idleTimeoutMs: 1500 },
    });
    server = await listen(app, '127.0.0.1', 0);
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
    await h?.close();
  });

  it('refuses a caller over its cap before the upload is read, and stores nothing', async () => {
    const image = await png();
    expect((await postJob(base, { image, fields: { frames: '2' } })).status).toBe(202);
    expect(
      (await postJob(base, { image, fields: { user: 'discord:5', frames: '2' }, token: ADMIN_TOKEN })).status,
    ).toBe(202);
    const files = inputs();
    // Anonymous: refused on the headers alone.
    const anonymous = await startUpload(base, part('frames', '2') + imageHead);
    expect(anonymous).toMatch(/^HTTP\/1\.1 429/);
    expect(anonymous).toMatch(/"code":"user_limit"/);
    // A bot naming the user first (as HttpJobService does): refused as the picture starts.
    const named = await startUpload(base, part('user', 'discord:5') + imageHead, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    expect(named).toMatch(/^HTTP\/1\.1 429/);
    expect(named).toMatch(/"code":"user_limit"/);
    // Another user of the same bot still gets in.
    const other = await postJob(base, {
      image,
      fields: { user: 'discord:6', frames: '2' },
      token: ADMIN_TOKEN,
    });
    expect(other.status).toBe(202);
    expect(inputs()).toBe(files + 1);
  });

  it('rate-limits submissions per identity, refused ones included, with Retry-After', async () => {
    const image = await png();
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 5; i++) {
      const form = new FormData();
      form.append('user', 'slack:T1:U9');
      form.append('image', new Blob([new Uint8Array(image)]), 'p.png');
      last = await fetch(new URL('v1/jobs', base), {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      statuses.push(last.status);
    }
    // One accepted, then over the cap (1), then over the rate (4 a minute).
    expect(statuses).toEqual([202, 429, 429, 429, 429]);
    expect(((await last!.json()) as Body).code).toBe('rate_limited');
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    const otherUser = new FormData();
    otherUser.append('user', 'slack:T1:U10');
    otherUser.append('image', new Blob([new Uint8Array(image)]), 'p.png');
    const ok = await fetch(new URL('v1/jobs', base), {
      method: 'POST',
      body: otherUser,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(ok.status).toBe(202);
  });

  it('caps event streams per caller and in total, and ends them at their maximum lifetime', async () => {
    const [mine] = (await h.sidecar.service.list('http:127.0.0.1')) as Body[];
    const url = new URL(`v1/jobs/${mine.id}/events`, base);
    const open = (token?: string) =>
      fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const a = await open();
    const b = await open();
    expect([a.status, b.status]).toEqual([200, 200]);
    const c = await open();
    expect(c.status).toBe(429);
    expect(((await c.json()) as Body).code).toBe('too_many_streams');
    const bot1 = await open(ADMIN_TOKEN);
    expect(bot1.status).toBe(200);
    expect((await open(ADMIN_TOKEN)).status).toBe(429); // 3 in total
    // A stream ends by itself after its lifetime (the job is still waiting), freeing its place.
    const t0 = performance.now();
    await a.text();
    expect(performance.now() - t0).toBeLessThan(3000);
    await Promise.all([b.text(), bot1.text()]);
    expect((await open()).status).toBe(200);
  });

  it('closes a slow client that stops sending, and sets a request timeout', async () => {
    const url = new URL(base);
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = performance.now();
      const socket = connect(Number(url.port), url.hostname);
      socket.on('error', () => {});
      socket.write('POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\n'); // and then nothing
      socket.on('close', () => resolve(performance.now() - t0));
      setTimeout(() => socket.destroy(), 5000).unref();
    });
    expect(closedAfter).toBeLessThan(4000);
    expect(h.app.server.requestTimeout).toBe(REQUEST_TIMEOUT_MS);
  });

  it('limits multipart parts, fields and field sizes', async () => {
    const image = await png();
    const send = async (fill: (f: FormData) => void, user: string) => {
      const form = new FormData();
      form.append('user', user);
      fill(form);
      const res = await fetch(new URL('v1/jobs', base), {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      return { status: res.status, body: (await res.json()) as Body };
    };
    const picture = (f: FormData, name = 'p.png') =>
      f.append('image', new Blob([new Uint8Array(image)]), name);
    const tooMany = await send((f) => {
      for (let i = 0; i < 30; i++) f.append('prompt', 'again');
      picture(f);
    }, 'web:m1');
    expect(tooMany).toMatchObject({ status: 400, body: { code: 'too_many_fields' } });
    // A delivery target has no length rule of its own: the field size limit (16 KiB) stops it.
    const huge = await send((f) => {
      f.append('delivery', JSON.stringify({ pad: 'x'.repeat(20_000) }));
      picture(f);
    }, 'web:m2');
    expect(huge.status, JSON.stringify(huge.body)).toBe(413);
    const twoFiles = await send((f) => {
      picture(f, 'a.png');
      picture(f, 'b.png');
    }, 'web:m3');
    expect(twoFiles.status).toBe(400);
  });
});
