/**
 * The sidecar's trust model (SECURITY.md, "The sidecar: who is calling"), attack by attack: each attack
 * that must fail, beside the legitimate use that must keep working. Real sidecar (tiny model, not
 * warmed, so jobs wait), real SQLite; raw HTTP where the URL's exact bytes matter (fetch and
 * inject normalise paths), app.inject where a peer address or a header is the point.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppOptions, buildApp } from '../../src/http/app.ts';
import { SESSION_COOKIE } from '../../src/http/session.ts';
import { ADMIN_TOKEN, type Body, type Harness, png, startHarness } from './harness.ts';

const BOT_TOKEN = 'bot-token-0123456789abcdefghijkl';
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const bot = { authorization: `Bearer ${BOT_TOKEN}` };

/** One request with the path sent byte for byte as given. */
function raw(
  base: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: Body; headers: Record<string, unknown> }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => {
          text += d.toString();
        });
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, body: parsed, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** A multipart body for app.inject. */
function multipart(parts: Record<string, string | Buffer>): {
  payload: Buffer;
  headers: Record<string, string>;
} {
  const boundary = 'sec-test-boundary';
  const chunks: Buffer[] = [];
  for (const [name, value] of Object.entries(parts)) {
    const file = Buffer.isBuffer(value);
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${file ? '; filename="p.png"\r\nContent-Type: image/png' : ''}\r\n\r\n`,
      ),
      Buffer.isBuffer(value) ? value : Buffer.from(value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    payload: Buffer.concat(chunks),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

describe('sidecar trust model', () => {
  let h: Harness;
  let image: Buffer;
  /** The harness's service behind an app with other settings (no listening: inject only). */
  const appWith = (extra: Partial<AppOptions>) =>
    buildApp({
      service: h.sidecar.service,
      info: { model: h.sidecar.service.model, ready: () => false, provider: () => undefined },
      logger: h.app.log as AppOptions['logger'],
      adminToken: ADMIN_TOKEN,
      botToken: BOT_TOKEN,
      metrics: h.sidecar.metrics,
      ...extra,
    });
  let app: Awaited<ReturnType<typeof appWith>>;
  const submit = async (parts: Record<string, string | Buffer>, headers: Record<string, string> = {}) => {
    const form = multipart({ frames: '2', steps: '1', ...parts });
    const res = await app.inject({
      method: 'POST',
      url: '/v1/jobs',
      payload: form.payload,
      headers: { ...form.headers, ...headers },
    });
    return { status: res.statusCode, body: res.json() as Body };
  };

  beforeAll(async () => {
    h = await startHarness({ perUser: 50 }, { warm: false });
    image = await png();
    app = await appWith({});
  });
  afterAll(async () => {
    await app?.close();
    await h?.close();
  });

  describe('1. rights are decided on the matched route', () => {
    const attacks: [string, string][] = [
      ['GET', '/v1/%71ueue'],
      ['GET', '/v1/%71%75%65%75%65'],
      ['GET', '/v1/Queue'],
      ['GET', '/v1//queue'],
      ['GET', '//v1/queue'],
      ['GET', '/v1/queue/'],
      ['GET', '/v1/./queue'],
      ['GET', '/v1/jobs/../queue'],
      ['GET', '/v1/jobs/%2e%2e/queue'],
      ['GET', '/v1%2Fqueue'],
      ['GET', '/v1/queue;x=1'],
      ['GET', '/v1/queue?token=x'],
      ['GET', '/v1/queue%00'],
      ['GET', '/v1/%2571ueue'],
      ['POST', '/v1/%71ueue/pause'],
      ['POST', '/v1/queue/%70ause'],
      ['POST', '/v1/queue/pause/'],
      ['POST', '/v1/queue/pause;'],
      ['POST', '/v1/%71ueue/clear'],
      ['POST', '/v1/queue%2Fclear'],
      ['PUT', '/v1/%71ueue/limits'],
    ];

    it('never answers 200 to an admin route without the token, however it is spelled', async () => {
      const before = await h.sidecar.service.queue();
      for (const [method, path] of attacks) {
        const json = method === 'PUT' ? JSON.stringify({ per_user: 1 }) : undefined;
        const headers: Record<string, string> = json ? { 'content-type': 'application/json' } : {};
        const res = await raw(h.url, method, path, headers, json);
        expect([401, 403, 404], `${method} ${path} → ${res.status}`).toContain(res.status);
        expect(res.body.error, `${method} ${path}`).toEqual(expect.any(String));
      }
      const after = await h.sidecar.service.queue();
      expect(after.paused).toBe(before.paused);
      expect(after.limits).toEqual(before.limits);
    });

    it('still serves the admin routes with the token, including through an encoded path', async () => {
      expect((await raw(h.url, 'GET', '/v1/queue', admin)).status).toBe(200);
      const encoded = await raw(h.url, 'GET', '/v1/%71ueue', admin);
      expect(encoded).toMatchObject({ status: 200, body: { paused: false } });
      expect((await raw(h.url, 'GET', '/v1/queue?x=1', admin)).status).toBe(200);
      expect((await raw(h.url, 'POST', '/v1/%71ueue/pause', admin)).body).toEqual({ paused: true });
      expect((await raw(h.url, 'POST', '/v1/queue/resume', admin)).body).toEqual({ paused: false });
    });

    it('gives the bot token the job routes but not the admin routes', async () => {
      expect((await raw(h.url, 'GET', '/v1/queue', bot)).status).toBe(401); // the harness has no bot token
      const res = await app.inject({ method: 'GET', url: '/v1/%71ueue', headers: bot });
      expect(res.statusCode).toBe(401);
      expect(
        (await app.inject({ method: 'GET', url: '/v1/jobs?user=discord:1', headers: bot })).statusCode,
      ).toBe(200);
    });
  });

  describe('2. Host and Origin', () => {
    it('refuses a DNS-rebinding page (a foreign Host) with 421 JSON, on every route', async () => {
      for (const url of ['/v1/jobs', '/v1/jobs?undelivered=1', '/v1/model', '/v1/options', '/', '/healthz']) {
        const res = await app.inject({ method: 'GET', url, headers: { host: 'evil.example:8080' } });
        expect(res.statusCode, url).toBe(421);
        expect(res.json()).toMatchObject({ code: 'host_not_served' });
      }
      const withToken = await app.inject({
        method: 'GET',
        url: '/v1/jobs?undelivered=1',
        headers: { host: 'evil.example', ...admin },
      });
      expect(withToken.statusCode).toBe(421);
    });

    it('serves loopback names, the bound HOST, PUBLIC_URL’s host and ALLOWED_HOSTS', async () => {
      for (const host of ['127.0.0.1:8080', 'localhost:8080', 'LOCALHOST', '[::1]:8080', '127.0.0.2']) {
        const res = await app.inject({ method: 'GET', url: '/healthz', headers: { host } });
        expect(res.statusCode, host).toBe(200);
      }
      const named = await appWith({
        allowedHosts: ['sidecar'],
        bindHost: '10.0.0.5',
        publicUrl: 'https://gpu.example.org',
      });
      for (const host of ['sidecar:8080', '10.0.0.5:8080', 'gpu.example.org']) {
        const res = await named.inject({ method: 'GET', url: '/healthz', headers: { host } });
        expect(res.statusCode, host).toBe(200);
      }
      expect(
        (await named.inject({ method: 'GET', url: '/healthz', headers: { host: 'evil.example' } }))
          .statusCode,
      ).toBe(421);
      await named.close();
    });

    it('refuses a cross-site form post with 403 JSON, and sends no CORS headers', async () => {
      const queued = (await h.sidecar.service.queue()).queued.length;
      const attacks: Record<string, string>[] = [
        { origin: 'https://evil.example' },
        { origin: 'http://127.0.0.1:9999' },
        { origin: 'null' },
        { 'sec-fetch-site': 'cross-site' },
      ];
      for (const headers of attacks) {
        const res = await submit({ image }, { host: '127.0.0.1:8080', ...headers });
        expect(res.status, JSON.stringify(headers)).toBe(403);
        expect(res.body).toMatchObject({ code: 'cross_site' });
      }
      // The admin token does not make a foreign page's request acceptable either.
      const paused = await app.inject({
        method: 'POST',
        url: '/v1/queue/pause',
        headers: { origin: 'https://evil.example', ...admin },
      });
      expect(paused.statusCode).toBe(403);
      expect((await h.sidecar.service.queue()).queued.length).toBe(queued);
      const read = await app.inject({
        method: 'GET',
        url: '/v1/jobs',
        headers: { origin: 'https://evil.example' },
      });
      expect(read.headers['access-control-allow-origin']).toBeUndefined();
      const preflight = await app.inject({
        method: 'OPTIONS',
        url: '/v1/jobs',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'DELETE' },
      });
      expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    });

    it('accepts the same-origin page, tools without an Origin, and the PUBLIC_URL origin', async () => {
      const same = await submit(
        { image },
        { host: '127.0.0.1:8080', origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' },
      );
      expect(same.status).toBe(202);
      expect((await submit({ image })).status).toBe(202);
      const pub = await appWith({ publicUrl: 'https://gpu.example.org' });
      const res = await pub.inject({
        method: 'POST',
        url: '/v1/queue/resume',
        headers: { host: 'gpu.example.org', origin: 'https://gpu.example.org', ...admin },
      });
      expect(res.statusCode).toBe(200);
      await pub.close();
    });
  });

  describe('3. identities', () => {
    it('refuses an anonymous caller that names a user, a delivery, ?user=, ?undelivered= or delivered', async () => {
      const forged = await submit({ user: 'discord:42', image });
      expect(forged).toMatchObject({ status: 403, body: { code: 'forbidden', option: 'user' } });
      const delivery = await submit({ delivery: '{"channel":"C-attacker"}', image });
      expect(delivery).toMatchObject({ status: 403, body: { option: 'delivery' } });
      expect((await h.sidecar.service.list('discord:42')).length).toBe(0);
      for (const url of ['/v1/jobs?user=discord:42', '/v1/jobs?undelivered=1']) {
        expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(403);
      }
      const trusted = await submit({ user: 'discord:42', delivery: '{"channel":"C1"}', image }, bot);
      expect(trusted.status).toBe(202);
      const marked = await app.inject({ method: 'POST', url: `/v1/jobs/${trusted.body.id}/delivered` });
      expect(marked.statusCode).toBe(403);
      expect((await h.sidecar.service.get(trusted.body.id))?.delivered).toBe(false);
      // The legitimate use: the bot names the user, lists, sees undelivered, marks delivered.
      const listed = await app.inject({ method: 'GET', url: '/v1/jobs?user=discord:42', headers: bot });
      expect(listed.json().jobs.map((j: Body) => j.id)).toEqual([trusted.body.id]);
      expect(
        (await app.inject({ method: 'GET', url: '/v1/jobs?undelivered=1', headers: bot })).statusCode,
      ).toBe(200);
      const ok = await app.inject({
        method: 'POST',
        url: `/v1/jobs/${trusted.body.id}/delivered`,
        headers: bot,
      });
      expect(ok.statusCode).toBe(200);
    });

    it('lets an anonymous caller see and cancel its own jobs only', async () => {
      const theirs = await submit({ user: 'slack:T1:U1', image }, bot);
      const id = theirs.body.id;
      for (const [method, url] of [
        ['GET', `/v1/jobs/${id}`],
        ['GET', `/v1/jobs/${id}/events`],
        ['GET', `/v1/jobs/${id}/result`],
        ['DELETE', `/v1/jobs/${id}`],
      ] as const) {
        const res = await app.inject({ method, url });
        expect(res.statusCode, `${method} ${url}`).toBe(404);
      }
      const other = await app.inject({ method: 'DELETE', url: `/v1/jobs/${id}?user=slack:T1:U1` });
      expect(other.statusCode).toBe(403);
      expect((await h.sidecar.service.get(id))?.state).toBe('queued');

      const mine = await submit({ image });
      expect((await h.sidecar.service.get(mine.body.id))?.user).toBe('http:127.0.0.1');
      const own = await app.inject({ method: 'GET', url: '/v1/jobs' });
      expect(own.json().jobs.map((j: Body) => j.id)).toContain(mine.body.id);
      expect(own.json().jobs.every((j: Body) => j.user === 'http:127.0.0.1')).toBe(true);
      const canceled = await app.inject({ method: 'DELETE', url: `/v1/jobs/${mine.body.id}` });
      expect(canceled.json()).toMatchObject({ state: 'canceled' });
      // The bot cancels for its user, not for another one.
      const wrong = await app.inject({
        method: 'DELETE',
        url: `/v1/jobs/${id}?user=slack:T1:U2`,
        headers: bot,
      });
      expect(wrong.statusCode).toBe(403);
      const right = await app.inject({
        method: 'DELETE',
        url: `/v1/jobs/${id}?user=slack:T1:U1`,
        headers: bot,
      });
      expect(right.json()).toMatchObject({ state: 'canceled' });
    });

    it('gives a playground session its own web:<session> identity from an HttpOnly cookie', async () => {
      const page = await app.inject({ method: 'GET', url: '/' });
      expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
      const cookie = page.cookies.find((c) => c.name === SESSION_COOKIE)!;
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
      expect(cookie.value).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const again = await app.inject({
        method: 'GET',
        url: '/',
        cookies: { [SESSION_COOKIE]: cookie.value },
      });
      expect(again.cookies.find((c) => c.name === SESSION_COOKIE)).toBeUndefined();

      const headers = { cookie: `${SESSION_COOKIE}=${cookie.value}` };
      const posted = await submit({ image }, headers);
      expect((await h.sidecar.service.get(posted.body.id))?.user).toBe(`web:${cookie.value}`);
      expect(
        (await app.inject({ method: 'GET', url: `/v1/jobs/${posted.body.id}`, headers })).statusCode,
      ).toBe(200);
      // Another browser (another session, or none) does not see it.
      const stranger = { cookie: `${SESSION_COOKIE}=${'x'.repeat(24)}` };
      expect(
        (await app.inject({ method: 'GET', url: `/v1/jobs/${posted.body.id}`, headers: stranger }))
          .statusCode,
      ).toBe(404);
      expect((await app.inject({ method: 'DELETE', url: `/v1/jobs/${posted.body.id}` })).statusCode).toBe(
        404,
      );
      expect(
        (await app.inject({ method: 'DELETE', url: `/v1/jobs/${posted.body.id}`, headers })).json(),
      ).toMatchObject({
        state: 'canceled',
      });
    });

    it('with PUBLIC_URL or TRUST_PROXY set, the loopback peer grants nothing', async () => {
      for (const extra of [{ publicUrl: 'https://gpu.example.org' }, { trustProxy: true as const }]) {
        const pub = await appWith(extra);
        const host = { host: '127.0.0.1' };
        for (const url of ['/v1/jobs', '/v1/model', '/v1/options', '/metrics']) {
          const res = await pub.inject({ method: 'GET', url, headers: host, remoteAddress: '127.0.0.1' });
          expect(res.statusCode, `${JSON.stringify(extra)} ${url}`).toBe(401);
        }
        const forwarded = await pub.inject({
          method: 'GET',
          url: '/v1/jobs',
          headers: { ...host, 'x-forwarded-for': '127.0.0.1' },
        });
        expect(forwarded.statusCode).toBe(401);
        const withToken = await pub.inject({
          method: 'GET',
          url: '/v1/jobs?user=discord:1',
          headers: { ...host, ...bot },
        });
        expect(withToken.statusCode).toBe(200);
        await pub.close();
      }
    });

    it('keeps /metrics to the admin token off loopback', async () => {
      const remote = { remoteAddress: '10.1.2.3' };
      expect((await app.inject({ method: 'GET', url: '/metrics', ...remote })).statusCode).toBe(401);
      expect((await app.inject({ method: 'GET', url: '/metrics', headers: bot, ...remote })).statusCode).toBe(
        401,
      );
      const withToken = await app.inject({ method: 'GET', url: '/metrics', headers: admin, ...remote });
      expect(withToken.statusCode).toBe(200);
      expect(withToken.body).toMatch(/stillmotion_queue_depth/);
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
    });

    it('refuses a wrong Bearer token instead of treating it as anonymous', async () => {
      const res = await app.inject({
        method: 'GET',
        url: '/v1/jobs',
        headers: { authorization: 'Bearer nope' },
      });
      expect(res.statusCode).toBe(401);
    });
  });
});
