/**
 * A result that Redis refuses at `maxmemory` (an `OOM` error, with `noeviction`): the job ends
 * failed with `store_full`, and the worker counts it as failed (its heartbeat's stats, its own
 * /metrics, no speed record), not as succeeded. A normal job on the same worker still counts as
 * succeeded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkerBeat } from '../../src/scale/views.ts';
import type { JobView } from '../../src/service/types.ts';
import { type Producer, png, spawnWorker, startProducer, stopWorker, until } from './harness.ts';
import { freePort, RedisServer } from './redis-server.ts';

const redis = new RedisServer();
const logs: string[] = [];
let worker: ReturnType<typeof spawnWorker>;
let p: Producer;
let image: Buffer;
let metricsUrl: string;

beforeAll(async () => {
  await redis.start();
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/`;
  // A long lock: the worker's lock renewals are refused too while Redis is full, and the job must
  // stay this try's meanwhile.
  worker = spawnWorker(
    redis.url,
    'wf',
    { WORKER_METRICS_PORT: String(port), WORKER_LOCK_MS: '120000', LOG_LEVEL: 'info' },
    (line) => logs.push(line),
  );
  [p, image] = await Promise.all([startProducer(redis.url), png()]);
  await beat(() => true, 90_000);
});

afterAll(async () => {
  await p?.service.store.redis.config('SET', 'maxmemory', '0').catch(() => {});
  await stopWorker(worker, 'SIGKILL');
  await p?.closeAll();
  await redis.destroy();
});

/** The worker's last heartbeat, once it has one for which `ok` holds. */
function beat(ok: (b: WorkerBeat) => boolean, ms?: number): Promise<WorkerBeat> {
  return until(
    'the worker heartbeat',
    async () => {
      const text = await p.service.store.redis.hget(p.service.store.key('workers'), 'wf');
      const b = text ? (JSON.parse(text) as WorkerBeat) : undefined;
      return b && ok(b) ? b : undefined;
    },
    ms,
  );
}

/** The job's view once it has ended. */
function endOf(id: string): Promise<JobView> {
  return until('the job to end', async () => {
    const v = await p.service.get(id);
    return v && !['queued', 'running'].includes(v.state) ? v : undefined;
  });
}

/** A line of the worker's own /metrics, e.g. `stillmotion_job_failures_total{reason="store_full"}`; its value, 0 if absent. */
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : 0;
}

const SUCCEEDED = 'stillmotion_job_duration_seconds_count{outcome="succeeded"}';
const FAILED = 'stillmotion_job_duration_seconds_count{outcome="failed"}';
const STORE_FULL = 'stillmotion_job_failures_total{reason="store_full"}';

describe('a result refused by a full Redis', () => {
  it('counts a normal job as succeeded', async () => {
    const job = await p.service.submit({ image, options: { frames: 2, steps: 1 }, user: 'web:ok' });
    expect(await endOf(job.id)).toMatchObject({ state: 'succeeded' });
    expect(await beat((b) => b.succeeded === 1)).toMatchObject({ succeeded: 1, failed: 0 });
    // The worker observes the duration just after it counts the job: wait for it.
    await until('the success metric', async () => (await metric(SUCCEEDED)) === 1);
    expect(await metric(FAILED)).toBe(0);
    expect(await p.service.store.redis.hgetall(p.service.store.key('eta'))).toHaveProperty(
      'overhead_frame_ms',
    );
  });

  it('fails the job with store_full and counts it as failed, not succeeded', async () => {
    const redisAdmin = p.service.store.redis;
    const eta = await redisAdmin.hgetall(p.service.store.key('eta'));
    const seen: JobView[] = [];
    let full: Promise<unknown> | undefined;
    const job = await p.service.submit({ image, options: { frames: 2, steps: 24 }, user: 'web:full' });
    p.service.subscribe(job.id, (v) => {
      seen.push(v);
      // Redis is full from the job's first step on: every write that adds data is refused (OOM).
      if (!full && v.state === 'running' && v.progress.step >= 1)
        full = redisAdmin.config('SET', 'maxmemory', '1');
    });
    await until('the result to be refused', async () =>
      logs.some((l) => l.includes('result could not be stored')),
    );
    await full;
    // Room again: the failure (and the heartbeats) can be written.
    await redisAdmin.config('SET', 'maxmemory', '0');
    expect(await endOf(job.id)).toMatchObject({
      state: 'failed',
      error_code: 'store_full',
      error: 'the result could not be stored: the job store is full; try again later',
    });
    expect(seen.map((v) => v.state)).not.toContain('succeeded');
    expect(await beat((b) => b.failed + b.succeeded === 2)).toMatchObject({ succeeded: 1, failed: 1 });
    await until('the failure metric', async () => (await metric(STORE_FULL)) === 1);
    expect(await metric(FAILED)).toBe(1);
    expect(await metric(SUCCEEDED)).toBe(1);
    // The speed estimate learned nothing from a job without a result.
    expect(await redisAdmin.hgetall(p.service.store.key('eta'))).toEqual(eta);
    const lines = () => logs.filter((l) => l.includes(job.id));
    await until(
      'the failed line',
      async () => lines().some((l) => l.includes('"job failed"') && l.includes('store_full')),
      5000,
    );
    expect(lines().some((l) => l.includes('"job succeeded"'))).toBe(false);
  });
});
