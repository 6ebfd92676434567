/**
 * Redis mode refuses a user over the cap before the upload is read (issue 10, item 4), as local
 * mode does: the producer checks the shared caps when the named user arrives, and admission checks
 * them again atomically. No worker runs, so the accepted jobs wait.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageHead, part, startUpload } from '../helpers/slow-upload.ts';
import { ADMIN_TOKEN, http, jobForm, type Producer, png, startProducer, TINY } from './harness.ts';
import { RedisServer } from './redis-server.ts';

const redis = new RedisServer();
let p: Producer;
let image: Buffer;

beforeAll(async () => {
  await redis.start();
  [p, image] = await Promise.all([startProducer(redis.url, 1), png()]);
});

afterAll(async () => {
  await p?.closeAll();
  await redis.destroy();
});

describe('redis mode: cheap refusals', () => {
  it('refuses a named user over the cap as the picture starts, and lets another user in', async () => {
    await p.service.submit({ image, options: TINY, user: 'discord:5' });
    const inputs = async () => (await p.service.store.redis.keys(p.service.store.key('input', '*'))).length;
    const stored = await inputs();
    // Without the early check the producer waits for the whole 20 MB body: "no answer".
    const named = await startUpload(p.url, part('user', 'discord:5') + imageHead, {
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    expect(named).toMatch(/^HTTP\/1\.1 429/);
    expect(named).toMatch(/"code":"user_limit"/);
    expect(await inputs()).toBe(stored);
    const other = await http(p.url, 'POST', '/v1/jobs', {
      token: ADMIN_TOKEN,
      form: jobForm(image, { user: 'discord:6', frames: '2', steps: '1' }),
    });
    expect(other.status).toBe(202);
    expect(await inputs()).toBe(stored + 1);
  });

  it('the early check and admission agree on the cap, and drop ids whose record is gone', async () => {
    const limits = { per_user: 1, max_queued: 100 };
    expect(await p.service.store.checkCaps('discord:5', limits)).toEqual({
      kind: 'user_limit',
      count: 1,
      limit: 1,
    });
    // A ghost id (its record lost) does not hold the user's place.
    await p.service.store.redis.sadd(p.service.store.key('active', 'discord:7'), 'ghost');
    expect((await p.service.store.checkCaps('discord:7', limits)).kind).toBe('ok');
    await expect(p.service.admit('discord:7')).resolves.toBeUndefined();
    await expect(p.service.admit('discord:5')).rejects.toMatchObject({ status: 429, code: 'user_limit' });
  });
});
