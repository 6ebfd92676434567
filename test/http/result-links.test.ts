/** Signed, expiring result links: the HMAC, and `GET /links/:id/result` refusing what was changed or is old. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { ResultLinks, resultLinksFor } from '../../src/service/result-links.ts';
import { ended, type Harness, png, postJob, startHarness, waitFor } from './harness.ts';

const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
const links = new ResultLinks({ publicUrl: 'https://bot.example/', secret: SECRET, ttlMs: 3_600_000 });

function parts(url: string) {
  const u = new URL(url);
  return { id: u.pathname.split('/')[2]!, exp: u.searchParams.get('exp')!, sig: u.searchParams.get('sig')! };
}

describe('ResultLinks', () => {
  it('signs the job id and the expiry; a change to either, or another secret, is refused', () => {
    const now = 1_700_000_000_000;
    const url = links.url('job123', now);
    expect(url).toMatch(/^https:\/\/bot\.example\/links\/job123\/result\?exp=\d+&sig=[\w-]{43}$/);
    const { id, exp, sig } = parts(url);
    expect(Number(exp)).toBe((now + 3_600_000) / 1000);
    expect(links.check(id, exp, sig, now)).toBe('ok');
    expect(links.check('job124', exp, sig, now)).toBe('bad');
    expect(links.check(id, String(Number(exp) + 3600), sig, now)).toBe('bad');
    expect(links.check(id, exp, `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`, now)).toBe('bad');
    expect(links.check(id, exp, undefined, now)).toBe('bad');
    expect(links.check(id, '1e9', sig, now)).toBe('bad');
    const other = new ResultLinks({
      publicUrl: 'https://bot.example',
      secret: `${SECRET}x`,
      ttlMs: 3_600_000,
    });
    expect(other.check(id, exp, sig, now)).toBe('bad');
  });

  it('expires', () => {
    const { id, exp, sig } = parts(links.url('job1', 0));
    expect(links.check(id, exp, sig, 3_600_000)).toBe('ok');
    expect(links.check(id, exp, sig, 3_601_000)).toBe('expired');
  });

  it('is on only with PUBLIC_URL; the secret is RESULT_LINK_SECRET or derived from the admin token', () => {
    const admin = 'an-admin-token-of-enough-length-123456';
    expect(resultLinksFor(loadConfig({ STILLMOTION_ADMIN_TOKEN: admin }))).toBeUndefined();
    expect(resultLinksFor(loadConfig({ PUBLIC_URL: 'https://x.example' }))).toBeUndefined();
    const derived = loadConfig({ PUBLIC_URL: 'https://x.example', STILLMOTION_ADMIN_TOKEN: admin });
    expect(derived.linkSecret).toBeDefined();
    expect(derived.linkSecret).not.toContain(admin);
    const given = loadConfig({ PUBLIC_URL: 'https://x.example', RESULT_LINK_SECRET: SECRET });
    expect(given.linkSecret).toBe(SECRET);
    expect(() => loadConfig({ RESULT_LINK_SECRET: 'short' })).toThrow(/RESULT_LINK_SECRET/);
  });
});

describe('GET /links/:id/result', () => {
  let h: Harness;
  let id: string;
  beforeAll(async () => {
    h = await startHarness({}, { app: { resultLinks: links } });
    id = (await postJob(h.url, { image: await png(), fields: { frames: '2', steps: '1' } })).body.id;
    await waitFor(h.sidecar, id, ended);
  });
  afterAll(async () => h?.close());

  const get = (url: string) => h.app.inject({ method: 'GET', url, remoteAddress: '203.0.113.9' });
  const path = (url: string) => url.replace('https://bot.example', '');

  it('serves the video to anyone holding a valid link, from another host and without a token', async () => {
    const res = await get(path(links.url(id)));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('video/mp4');
    expect(res.rawPayload.byteLength).toBeGreaterThan(100);
    // The same caller without the link is refused on the job routes.
    expect((await get(`/v1/jobs/${id}/result`)).statusCode).toBe(401);
  });

  it('refuses a tampered or expired link with 403 JSON, and a link to another job', async () => {
    const { exp, sig } = parts(links.url(id));
    const tampered = await get(`/links/${id}/result?exp=${Number(exp) + 60}&sig=${sig}`);
    expect(tampered.statusCode).toBe(403);
    expect(tampered.json()).toMatchObject({ code: 'bad_signature' });
    expect((await get(`/links/other${id}/result?exp=${exp}&sig=${sig}`)).json()).toMatchObject({
      code: 'bad_signature',
    });
    expect((await get(`/links/${id}/result`)).statusCode).toBe(403);
    const old = await get(path(links.url(id, Date.now() - 2 * links.ttlMs)));
    expect(old.statusCode).toBe(403);
    expect(old.json()).toMatchObject({ code: 'link_expired' });
  });
});
