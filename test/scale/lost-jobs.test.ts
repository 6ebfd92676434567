/**
 * Redis mode when the shared state is damaged or lost (issue 10, items 7–9): a tampered job hash
 * is failed with a reason, never run; a damaged hash does not block listings; the memory budget
 * refuses admission by name; watchers end with a final message when a job disappears (a flushed
 * Redis, or one restarted without its AOF) and leave nothing behind; the worker says why its
 * writes were refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/service/types.ts';
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
import { RedisServer } from './redis-server.ts';

const redis = new RedisServer();
const logs: string[] = [];
let worker: WorkerProc;
let p: Producer;
let image: Buffer;

function watch(id: string): JobView[] {
  const seen: JobView[] = [];
  p.service.subscribe(id, (v) => seen.push(v));
  return seen;
}

/** Opens an SSE stream: `started` once its first event came, `all` the views it carried when it ended. */
function readEvents(id: string): { started: Promise<void>; all: Promise<JobView[]> } {
  let started: () => void = () => {};
  const first = new Promise<void>((r) => {
    started = r;
  });
  const all = (async () => {
    const res = await fetch(new URL(`v1/jobs/${id}/events`, p.url), {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    let text = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      text += Buffer.from(chunk).toString();
      if (text.includes('data:')) started();
    }
    return text
      .split('\n')
      .filter((l) => l.startsWith('data:'))
      .map((l) => JSON.parse(l.slice(5)) as JobView);
  })();
  return { started: first, all };
}

const lost = (v: JobView | undefined) => v?.state === 'failed' && v.error_code === 'lost';

beforeAll(async () => {
  await redis.start();
  worker = spawnWorker(redis.url, 'wl', {}, (line) => logs.push(line));
  [p, image] = await Promise.all([startProducer(redis.url), png()]);
  await until('the worker to join', async () => (await liveWorkers(p.service)).length === 1, 90_000);
});

afterAll(async () => {
  await stopWorker(worker, 'SIGKILL');
  await p?.closeAll();
  await redis.destroy();
});

describe('redis mode with damaged or lost state', () => {
  it('fails a job whose stored options were tampered with, without running it', async () => {
    await p.service.pause();
    const bad = await p.service.submit({ image, options: TINY, user: 'web:tamper' });
    const good = await p.service.submit({ image, options: TINY, user: 'web:tamper' });
    const key = p.service.store.key('job', bad.id);
    const stored = JSON.parse((await p.service.store.redis.hget(key, 'options'))!);
    await p.service.store.redis.hset(key, 'options', JSON.stringify({ ...stored, steps: 5000 }));
    await p.service.resume();
    await until(
      'both jobs to end',
      async () => ended(await p.service.get(good.id)) && ended(await p.service.get(bad.id)),
    );
    const view = await p.service.get(bad.id);
    expect(view).toMatchObject({ state: 'failed', error_code: 'bad_record' });
    expect(view!.error).toMatch(/stored options were refused \(steps must be .*1–50/);
    expect((await p.service.store.job(bad.id))!.startSeq).toBeDefined();
    expect(await p.service.get(good.id)).toMatchObject({ state: 'succeeded' });
    await until('the worker log', async () => logs.some((l) => l.includes('stored options refused')), 5000);
  });

  it('fails a job whose hash is unreadable with a reason; listings and undelivered() go on', async () => {
    await p.service.pause();
    const delivery = { channel: 'c9' };
    const bad = await p.service.submit({ image, options: TINY, user: 'web:dmg', delivery });
    const good = await p.service.submit({ image, options: TINY, user: 'web:dmg', delivery });
    await p.service.store.redis.hset(p.service.store.key('job', bad.id), 'options', '{"steps":');
    // Without the fix, every read that touches this hash threw, and the queue answered 503.
    const listed = await p.service.list('web:dmg');
    expect(listed.map((v) => v.id).sort()).toEqual([bad.id, good.id].sort());
    expect(listed.find((v) => v.id === bad.id)).toMatchObject({ state: 'failed', error_code: 'bad_record' });
    expect((await p.service.queue()).queued.map((v) => v.id)).toEqual([good.id]);
    await p.service.resume();
    await until('the good job to end', async () => ended(await p.service.get(good.id)));
    const undelivered = await p.service.undelivered();
    expect(undelivered.map((v) => v.id)).toEqual(expect.arrayContaining([bad.id, good.id]));
    expect(undelivered.find((v) => v.id === bad.id)!.error).toMatch(/record was damaged/);
    expect((await p.service.store.job(bad.id))!.attempts).toBe(0);
  });

  it('refuses admission by name when pictures and results would pass the memory budget', async () => {
    const tight = await startProducer(redis.url, 3, 100, { redisMemoryBudgetBytes: image.length + 1000 });
    try {
      const res = await http(tight.url, 'POST', '/v1/jobs', {
        token: ADMIN_TOKEN,
        form: jobForm(image, { user: 'web:mem', frames: '2', steps: '1' }),
      });
      // The 3 jobs' results still kept hold more than the tight budget allows.
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ code: 'memory_budget' });
      expect(res.body.error).toMatch(/REDIS_MEMORY_BUDGET_MB/);
      // The same submission passes a producer with room in its budget.
      const ok = await http(p.url, 'POST', '/v1/jobs', {
        token: ADMIN_TOKEN,
        form: jobForm(image, { user: 'web:mem', frames: '2', steps: '1' }),
      });
      expect(ok.status).toBe(202);
      await until('it to end', async () => ended(await p.service.get(ok.body.id)));
    } finally {
      await tight.closeAll();
    }
  });

  it('ends watchers with a final message when Redis is flushed, and the worker says why it stopped', async () => {
    const running = await p.service.submit({ image, options: { frames: 8, steps: 50 }, user: 'web:flush' });
    await until('it to run', async () => (await p.service.store.job(running.id))?.progress?.step, 30_000);
    await p.service.pause();
    const waiting = await p.service.submit({ image, options: TINY, user: 'web:flush' });
    const seenRunning = watch(running.id);
    const seenWaiting = watch(waiting.id);
    const stream = readEvents(waiting.id);
    await stream.started;
    expect(p.service.watched).toBe(2);
    await p.service.store.redis.flushall();
    await until(
      'both watchers to hear',
      async () => lost(seenRunning.at(-1)) && lost(seenWaiting.at(-1)),
      10_000,
    );
    expect(seenWaiting.at(-1)!.error).toMatch(/the job was lost/);
    const events = await stream.all;
    expect(lost(events.at(-1))).toBe(true);
    expect(p.service.watched).toBe(0);
    // The worker was told its job's record is gone, not that another worker took it.
    await until(
      'the worker log',
      async () => logs.some((l) => l.includes('record is gone from Redis')),
      10_000,
    );
    expect(logs.some((l) => l.includes('handed to another worker'))).toBe(false);
    // Service goes on: a new job runs.
    const next = await p.service.submit({ image, options: TINY, user: 'web:flush' });
    const [view] = [
      await until('the new job to end', async () => {
        const v = await p.service.get(next.id);
        return ended(v) ? v : undefined;
      }),
    ];
    expect(view!.state).toBe('succeeded');
  });

  it('ends watchers when Redis restarts without its AOF', async () => {
    await p.service.pause();
    const { id } = await p.service.submit({ image, options: TINY, user: 'web:wipe' });
    const seen = watch(id);
    await until('the first view', async () => seen.length > 0, 5000);
    await redis.wipe();
    await redis.start();
    await until('the watcher to hear', async () => lost(seen.at(-1)), 15_000);
    expect(p.service.watched).toBe(0);
    // The empty Redis takes new jobs, and the user's cap starts from zero.
    await until('the worker to rejoin', async () => (await liveWorkers(p.service)).length === 1, 30_000);
    const next = await until('a submission', () =>
      p.service.submit({ image, options: TINY, user: 'web:wipe' }),
    );
    const view = await until(
      'it to end',
      async () => {
        const v = await p.service.get(next.id);
        return ended(v) ? v : undefined;
      },
      60_000,
    );
    expect(view.state).toBe('succeeded');
  });
});
