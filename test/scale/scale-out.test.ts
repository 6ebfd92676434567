/**
 * Scale-out end to end: one real Redis (appendonly), three real worker processes on the tiny CPU
 * model, two producers (the Redis job service, and the unchanged HTTP app on another one).
 * Covers: 30 jobs from 6 users complete exactly once in round-robin order; cancel and admin
 * actions across processes; kill -9 of a worker mid-job; Redis down for 5 s.
 */
import { resolveOptions } from '@stillmotion/engine';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/service/types.ts';
import { ServiceError } from '../../src/service/types.ts';
import {
  ADMIN_TOKEN,
  ended,
  http,
  jobForm,
  liveWorkers,
  type Producer,
  png,
  spawnWorker,
  startProducer,
  stopWorker,
  TINY,
  until,
  type WorkerProc,
} from './harness.ts';
import { freePort, RedisServer } from './redis-server.ts';

const redis = new RedisServer();
let workers: WorkerProc[] = [];
let a: Producer;
let b: Producer;
let image: Buffer;
let metricsPort: number;

async function allEnded(p: Producer, ids: readonly string[], ms = 90_000): Promise<JobView[]> {
  return until(
    `${ids.length} jobs to end`,
    async () => {
      const views = await Promise.all(ids.map((id) => p.service.get(id)));
      return views.every(ended) ? (views as JobView[]) : undefined;
    },
    ms,
  );
}

beforeAll(async () => {
  await redis.start();
  metricsPort = await freePort();
  workers = ['w1', 'w2', 'w3'].map((id) =>
    spawnWorker(redis.url, id, id === 'w1' ? { WORKER_METRICS_PORT: String(metricsPort) } : {}),
  );
  [a, b, image] = await Promise.all([startProducer(redis.url), startProducer(redis.url), png()]);
  await until('3 workers to join', async () => (await liveWorkers(a.service)).length === 3, 90_000);
});

afterAll(async () => {
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
  await Promise.all([a?.closeAll(), b?.closeAll()]);
  await redis.destroy();
});

describe('scale-out on BullMQ + Redis', () => {
  it('runs 30 jobs from 6 users on 3 workers: each exactly once, round-robin across users', async () => {
    await b.service.setLimits({ per_user: 5 });
    await a.service.pause();
    const users = ['a', 'b', 'c', 'd', 'e', 'f'].map((u) => `web:${u}`);
    const ids: string[] = [];
    // Worst case for a FIFO: each user's jobs arrive together, through two producers in turn.
    for (const user of users) {
      for (let i = 0; i < 5; i++) {
        const producer = ids.length % 2 ? b : a;
        ids.push((await producer.service.submit({ image, options: TINY, user })).id);
      }
    }
    const queue = await b.service.queue();
    expect(queue.paused).toBe(true);
    expect(
      queue.queued
        .map((j) => j.user)
        .slice(0, 6)
        .sort(),
    ).toEqual(users);
    const started = Date.now();
    await b.service.resume();
    const views = await allEnded(a, ids);
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(
      `${JSON.stringify({ scale_throughput: { jobs: 30, workers: 3, seconds, jobs_per_s: 30 / seconds } })}\n`,
    );
    expect(views.map((v) => v.state)).toEqual(Array(30).fill('succeeded'));
    const stored = await a.service.store.jobs(ids);
    // Exactly once: every job ended once and left one result.
    expect(stored.map((j) => j!.ends)).toEqual(Array(30).fill(1));
    for (const id of ids) expect((await a.service.result(id)).subarray(4, 8).toString()).toBe('ftyp');
    // The work spread over the workers.
    expect(new Set(stored.map((j) => j!.worker)).size).toBeGreaterThanOrEqual(2);
    // Fairness: after 6k + 3 starts (3 may race in flight), every user has had k.
    const order = [...stored].sort((x, y) => x!.startSeq! - y!.startSeq!).map((j) => j!.user);
    for (let k = 1; k <= 4; k++) {
      const prefix = order.slice(0, 6 * k + 3);
      for (const user of users) expect(prefix.filter((u) => u === user).length).toBeGreaterThanOrEqual(k);
    }
    await b.service.setLimits({ per_user: 3 });
  });

  it('applies caps, pause, clear and cancel from any producer, over HTTP too', async () => {
    const paused = await http(b.url, 'POST', '/v1/queue/pause', { token: ADMIN_TOKEN });
    expect(paused).toMatchObject({ status: 200, body: { paused: true } });
    expect((await http(b.url, 'POST', '/v1/queue/clear')).status).toBe(401);
    const limits = await http(b.url, 'PUT', '/v1/queue/limits', {
      token: ADMIN_TOKEN,
      json: { per_user: 2, max_queued: 4 },
    });
    expect(limits.body).toEqual({ per_user: 2, max_queued: 4 });
    const x1 = await a.service.submit({ image, options: TINY, user: 'web:x' });
    await a.service.submit({ image, options: TINY, user: 'web:x' });
    const capped = await a.service.submit({ image, options: TINY, user: 'web:x' }).catch((e) => e);
    expect(capped).toBeInstanceOf(ServiceError);
    expect(capped).toMatchObject({ status: 429, code: 'user_limit' });
    expect(capped.message).toMatch(/limit 2 per user/);
    const viaHttp = await http(b.url, 'POST', '/v1/jobs', {
      token: ADMIN_TOKEN,
      form: jobForm(image, { user: 'web:y', frames: '2', steps: '1' }),
    });
    expect(viaHttp.status).toBe(202);
    await a.service.submit({ image, options: TINY, user: 'web:z' });
    const full = await http(b.url, 'POST', '/v1/jobs', {
      token: ADMIN_TOKEN,
      form: jobForm(image, { user: 'web:w', frames: '2', steps: '1' }),
    });
    expect(full).toMatchObject({ status: 429, body: { code: 'queue_full' } });
    const queue = await http(b.url, 'GET', '/v1/queue', { token: ADMIN_TOKEN });
    expect(queue.body.queued).toHaveLength(4);
    // Someone else cannot cancel x's job; x can, through the other producer.
    expect((await http(b.url, 'DELETE', `/v1/jobs/${x1.id}?user=web:y`, { token: ADMIN_TOKEN })).status).toBe(
      403,
    );
    const canceled = await http(b.url, 'DELETE', `/v1/jobs/${x1.id}?user=web:x`, { token: ADMIN_TOKEN });
    expect(canceled.body).toMatchObject({ state: 'canceled', error: 'canceled while waiting' });
    expect(await a.service.get(x1.id)).toMatchObject({ state: 'canceled' });
    const cleared = await http(b.url, 'POST', '/v1/queue/clear', { token: ADMIN_TOKEN });
    expect(cleared.body).toEqual({ canceled: 3 });
    expect((await a.service.queue()).queued).toHaveLength(0);
    await a.service.setLimits({ per_user: 3, max_queued: 100 });
    await a.service.resume();
    // Nothing canceled ever ran.
    const stored = await a.service.store.jobs([x1.id, viaHttp.body.id]);
    expect(stored.map((j) => j!.attempts)).toEqual([0, 0]);
  });

  it('relays progress to the submitter and cancels a running job on its worker', async () => {
    const { id } = await a.service.submit({
      image,
      options: { frames: 8, steps: 50 },
      user: 'web:long',
      delivery: { channel: 'c1' },
    });
    const seen: JobView[] = [];
    a.service.subscribe(id, (v) => seen.push(v));
    await until(
      'progress',
      async () => seen.some((v) => v.state === 'running' && v.progress.step >= 2),
      30_000,
    );
    const asked = Date.now();
    const view = await b.service.cancel(id, { user: 'admin', admin: true });
    const cancelMs = Date.now() - asked;
    expect(view).toMatchObject({ state: 'canceled', error: 'canceled while running' });
    expect(cancelMs).toBeLessThan(5000);
    await until('the canceled event', async () => seen.some((v) => v.state === 'canceled'), 5000);
    // A finished job with a delivery target waits for its bot, once.
    expect((await b.service.undelivered()).map((v) => v.id)).toContain(id);
    expect((await http(b.url, 'POST', `/v1/jobs/${id}/delivered`, { token: ADMIN_TOKEN })).status).toBe(200);
    expect((await a.service.undelivered()).map((v) => v.id)).not.toContain(id);
  });

  it('serves a result over HTTP once done: 409 before, the MP4 after', async () => {
    const posted = await http(b.url, 'POST', '/v1/jobs', {
      token: ADMIN_TOKEN,
      form: jobForm(image, { user: 'web:h', frames: '2', steps: '3' }),
    });
    const early = await http(b.url, 'GET', `/v1/jobs/${posted.body.id}/result`, { token: ADMIN_TOKEN });
    expect([409, 200]).toContain(early.status);
    await allEnded(a, [posted.body.id]);
    const res = await http(b.url, 'GET', `/v1/jobs/${posted.body.id}/result`, { token: ADMIN_TOKEN });
    expect(res.status).toBe(200);
    expect(res.type).toBe('video/mp4');
    expect(res.bytes.subarray(4, 8).toString()).toBe('ftyp');
    const metrics = await http(b.url, 'GET', '/metrics');
    expect(metrics.body).toMatch(/stillmotion_workers_live 3/);
    expect(metrics.body).toMatch(/stillmotion_worker_running\{worker="w1"/);
    expect(metrics.body).toMatch(/stillmotion_jobs_ended\{state="succeeded",reason=""\} 3\d/);
    expect((await http(b.url, 'GET', '/readyz')).status).toBe(200);
    // Each worker can serve its own numbers too.
    const own = `http://127.0.0.1:${metricsPort}/`;
    expect((await http(own, 'GET', '/healthz')).body).toEqual({ ok: true, worker: 'w1' });
    expect((await http(own, 'GET', '/metrics')).body).toMatch(
      /stillmotion_step_duration_seconds_count [1-9]/,
    );
  });

  it('queues a job whose producer died between admission and the queue (reconciler)', async () => {
    const id = 'orphan-1';
    const admitted = await a.service.store.admit({
      id,
      user: 'web:o',
      now: Date.now() - 10_000,
      options: resolveOptions(TINY, a.service.model),
      image,
      defaults: { per_user: 3, max_queued: 100 },
      listTtlMs: 60_000,
    });
    expect(admitted.kind).toBe('ok');
    // No BullMQ job exists: only the reconciler (any producer, every 10 s) can start it.
    expect(await b.service.reconcile()).toBe(1);
    expect(await b.service.reconcile()).toBe(0);
    const [view] = await allEnded(a, [id]);
    expect(view.state).toBe('succeeded');
    expect(await a.service.store.job(id)).toMatchObject({ ends: 1, attempts: 1 });
  });

  it('finishes a job elsewhere, exactly once, when its worker is killed mid-job', async () => {
    const { id } = await a.service.submit({ image, options: { frames: 8, steps: 30 }, user: 'web:k' });
    const running = await until(
      'the job to run',
      async () => {
        const j = await a.service.store.job(id);
        return j?.state === 'running' && (j.progress?.step ?? 0) >= 1 ? j : undefined;
      },
      30_000,
    );
    const victim = workers.find((w) => w.id === running.worker)!;
    const killedAt = Date.now();
    victim.proc.kill('SIGKILL');
    await victim.exited();
    const retried = await until(
      'another worker to take the job',
      async () => {
        const j = await a.service.store.job(id);
        return j && j.attempts === running.attempts + 1 && j.state === 'running' ? j : undefined;
      },
      30_000,
    );
    const recoveryMs = retried.startedAt! - killedAt;
    process.stderr.write(
      `${JSON.stringify({ scale_recovery_ms: recoveryMs, lock_ms: 5000, stalled_ms: 1000 })}\n`,
    );
    expect(retried.worker).not.toBe(victim.id);
    const [view] = await allEnded(a, [id]);
    expect(view.state).toBe('succeeded');
    expect(await a.service.store.job(id)).toMatchObject({ ends: 1, attempts: running.attempts + 1 });
    expect((await a.service.result(id)).subarray(4, 8).toString()).toBe('ftyp');
    // A worker joins at any time.
    workers = workers.filter((w) => w !== victim);
    workers.push(spawnWorker(redis.url, 'w4'));
    await until('w4 to join', async () => (await liveWorkers(a.service)).includes('w4'), 60_000);
  });

  it('puts a job back without using its try when its worker leaves with SIGTERM', async () => {
    const { id } = await a.service.submit({ image, options: { frames: 8, steps: 30 }, user: 'web:t' });
    const running = await until(
      'the job to run',
      async () => {
        const j = await a.service.store.job(id);
        return j?.state === 'running' && (j.progress?.step ?? 0) >= 1 ? j : undefined;
      },
      30_000,
    );
    const leaver = workers.find((w) => w.id === running.worker)!;
    await stopWorker(leaver, 'SIGTERM');
    expect(leaver.proc.exitCode).toBe(0);
    workers = workers.filter((w) => w !== leaver);
    expect((await liveWorkers(a.service)).includes(leaver.id)).toBe(false);
    const [view] = await allEnded(a, [id]);
    expect(view.state).toBe('succeeded');
    const job = await a.service.store.job(id);
    // The try it was on when its worker left was given back.
    expect(job).toMatchObject({ ends: 1, attempts: running.attempts });
    expect(job!.worker).not.toBe(leaver.id);
  });

  it('answers "queue unavailable" while Redis is down, then recovers and loses nothing accepted', async () => {
    const accepted: string[] = [];
    for (const user of ['web:r1', 'web:r2', 'web:r3']) {
      for (let i = 0; i < 2; i++) accepted.push((await a.service.submit({ image, options: TINY, user })).id);
    }
    await redis.stop('SIGKILL');
    const downAt = Date.now();
    await until('the producers to notice', async () => !a.service.connected && !b.service.connected, 5000);
    while (Date.now() - downAt < 5000) {
      const t = Date.now();
      const err = await a.service.submit({ image, options: TINY, user: 'web:r4' }).catch((e) => e);
      expect(err).toMatchObject({ status: 503, code: 'queue_unavailable' });
      expect(err.message).toMatch(/queue unavailable/);
      expect(Date.now() - t).toBeLessThan(1000);
      const res = await http(b.url, 'POST', '/v1/jobs', {
        token: ADMIN_TOKEN,
        form: jobForm(image, { user: 'web:r4', frames: '2', steps: '1' }),
      });
      expect(res).toMatchObject({ status: 503, body: { code: 'queue_unavailable' } });
      await new Promise((r) => setTimeout(r, 500));
    }
    await redis.start();
    const backAt = Date.now();
    const after = await until('a submission to succeed again', () =>
      a.service.submit({ image, options: TINY, user: 'web:r4' }),
    );
    process.stderr.write(`${JSON.stringify({ scale_redis_recovery_ms: Date.now() - backAt })}\n`);
    const views = await allEnded(a, [...accepted, after.id]);
    expect(views.map((v) => v.state)).toEqual(Array(7).fill('succeeded'));
    const stored = await a.service.store.jobs([...accepted, after.id]);
    expect(stored.map((j) => j!.ends)).toEqual(Array(7).fill(1));
  });
});
