/**
 * One lifecycle, two stores: the in-process service and the redis-mode producer refuse the same
 * requests the same way (status, code, message, option), in the same order of checks, and show a
 * waiting job with the same view. No engine or worker runs, so accepted jobs wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspectImage, loadModelInfo } from '@stillmotion/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { LocalJobService } from '../../src/service/job-service.ts';
import { Journal } from '../../src/service/journal.ts';
import { type BackendJob, LocalBackend } from '../../src/service/local-backend.ts';
import type { Actor, JobService, SubmitRequest } from '../../src/service/types.ts';
import { type Producer, png, startProducer, TINY } from './harness.ts';
import { RedisServer } from './redis-server.ts';

const redis = new RedisServer();
const dirs: string[] = [];
let p: Producer;
let local: LocalJobService;
let image: Buffer;

beforeAll(async () => {
  await redis.start();
  [p, image] = await Promise.all([startProducer(redis.url, 1), png()]);
  const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-parity-'));
  dirs.push(dir);
  local = new LocalJobService({
    journal: new Journal(dir),
    backend: new LocalBackend<BackendJob>({ concurrency: 1, limits: { per_user: 1, max_queued: 100 } }),
    model: loadModelInfo(),
    inspectImage,
    logger: createLogger('silent'),
  });
  await local.open();
});

afterAll(async () => {
  await local?.shutdown();
  await p?.closeAll();
  await redis.destroy();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The refusal as a client sees it, or 'accepted'. */
async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
    return 'accepted';
  } catch (err) {
    const e = err as { status?: number; code?: string; message: string; option?: string };
    return { status: e.status, code: e.code, message: e.message, option: e.option };
  }
}

/** What each service answers to the same call. */
async function both(call: (s: JobService) => Promise<unknown>): Promise<[unknown, unknown]> {
  return [await outcome(() => call(local)), await outcome(() => call(p.service))];
}

const notAPicture = Buffer.from('this is plain text, not a picture');

describe('one lifecycle in both services', () => {
  it('runs the submit checks in the same order: user, then picture, then options', async () => {
    const cases: [string, SubmitRequest, unknown][] = [
      [
        'a bad user id is refused before the picture is looked at',
        { image: notAPicture, options: { frames: 9999 }, user: 'nobody' },
        { status: 400, code: 'bad_user', option: 'user' },
      ],
      [
        'a bad picture is refused before the options are read',
        { image: notAPicture, options: { frames: 9999 }, user: 'web:a' },
        { status: 415, code: 'unsupported_type', option: undefined },
      ],
      [
        'a damaged picture gets the catalog status of corrupt_image',
        { image: image.subarray(0, 60), options: TINY, user: 'web:a' },
        { status: 422, code: 'corrupt_image', option: undefined },
      ],
      [
        'then an option out of range, naming the option',
        { image, options: { ...TINY, frames: 9999 }, user: 'web:a' },
        { status: 400, code: 'bad_option', option: 'frames' },
      ],
    ];
    for (const [why, req, expected] of cases) {
      const [fromLocal, fromRedis] = await both((s) => s.submit(req));
      expect(fromLocal, why).toMatchObject(expected as object);
      expect(fromRedis, why).toEqual(fromLocal);
    }
  });

  it('applies the per-user cap, ownership and the limit check with the same refusals', async () => {
    const first = { image, options: { ...TINY, seed: 7 }, user: 'web:owner' };
    expect(await both((s) => s.submit(first))).toEqual(['accepted', 'accepted']);
    const [capLocal, capRedis] = await both((s) => s.submit(first));
    expect(capLocal).toMatchObject({ status: 429, code: 'user_limit' });
    expect(capRedis).toEqual(capLocal);

    const stranger: Actor = { user: 'web:stranger', admin: false };
    const [ownLocal, ownRedis] = await both(async (s) => {
      const [job] = await s.list('web:owner');
      return s.cancel(job!.id, stranger);
    });
    expect(ownLocal).toMatchObject({ status: 403, code: 'not_owner' });
    expect(ownRedis).toEqual(ownLocal);

    const [goneLocal, goneRedis] = await both((s) => s.cancel('no-such-job', stranger));
    expect(goneLocal).toEqual({
      status: 404,
      code: 'not_found',
      message: 'no job no-such-job',
      option: undefined,
    });
    expect(goneRedis).toEqual(goneLocal);

    const [limitLocal, limitRedis] = await both((s) => s.setLimits({ per_user: 0 }));
    expect(limitLocal).toMatchObject({ status: 400, code: 'bad_limit', option: 'per_user' });
    expect(limitRedis).toEqual(limitLocal);
  });

  it('shows a waiting job with the same view', async () => {
    const [fromLocal] = await local.list('web:owner');
    const [fromRedis] = await p.service.list('web:owner');
    const shape = (v: typeof fromLocal) => {
      const { id: _id, created_at: _c, ...rest } = v!;
      return rest;
    };
    expect(shape(fromLocal)).toMatchObject({ state: 'queued', position: 1, user: 'web:owner' });
    expect(shape(fromRedis)).toEqual(shape(fromLocal));
  });

  it('refuses with 503 shutting_down once either service is closing', async () => {
    await local.shutdown();
    await p.service.close();
    const [fromLocal, fromRedis] = await both((s) => s.submit({ image, options: TINY, user: 'web:late' }));
    expect(fromLocal).toMatchObject({ status: 503, code: 'shutting_down' });
    expect(fromRedis).toEqual(fromLocal);
  });
});
