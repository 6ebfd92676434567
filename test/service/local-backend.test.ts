/**
 * The backend schedules whatever processor it is given; here the processors are small async
 * functions we control, so start order and overlap are observed exactly.
 */
import { describe, expect, it } from 'vitest';
import { JobAbort } from '../../src/service/job-lifecycle.ts';
import { LocalBackend } from '../../src/service/local-backend.ts';

type J = { id: string; user: string };
const limits = { per_user: 10, max_queued: 100 };
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

function waitAbort(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) =>
    signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
  );
}

describe('LocalBackend', () => {
  it('never runs more jobs than its concurrency, and fills every slot', async () => {
    const backend = new LocalBackend<J>({ concurrency: 2, limits });
    let running = 0;
    let peak = 0;
    const done: string[] = [];
    backend.start(async (job) => {
      running++;
      peak = Math.max(peak, running);
      await tick(10 + (job.id.charCodeAt(1) % 3) * 5);
      running--;
      done.push(job.id);
    });
    for (let i = 0; i < 12; i++) await backend.enqueue({ id: `${'abc'[i % 3]}${i}`, user: 'abc'[i % 3]! });
    while (done.length < 12) await tick();
    expect(peak).toBe(2);
  });

  it('starts jobs in round-robin order across users', async () => {
    const backend = new LocalBackend<J>({ concurrency: 1, limits, paused: true });
    const order: string[] = [];
    backend.start(async (job) => {
      order.push(job.id);
    });
    for (const id of ['a1', 'a2', 'a3', 'b1', 'c1']) await backend.enqueue({ id, user: id[0]! });
    expect((await backend.snapshot()).queued).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
    await backend.resume();
    while (order.length < 5) await tick();
    expect(order).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
  });

  it('pause stops new starts while the running job finishes; resume starts again; clear empties the queue', async () => {
    const backend = new LocalBackend<J>({ concurrency: 1, limits });
    const started: string[] = [];
    let release!: () => void;
    backend.start(async (job) => {
      started.push(job.id);
      if (job.id === 'a1') await new Promise<void>((r) => (release = r));
    });
    await backend.enqueue({ id: 'a1', user: 'a' });
    await backend.enqueue({ id: 'b1', user: 'b' });
    await tick();
    await backend.pause();
    release();
    await tick(20);
    expect(started).toEqual(['a1']);
    expect((await backend.snapshot()).running).toEqual([]);
    // Jobs are still accepted while paused.
    await backend.enqueue({ id: 'c1', user: 'c' });
    expect((await backend.snapshot()).queued).toEqual(['b1', 'c1']);
    await backend.resume();
    await tick(20);
    expect(started).toEqual(['a1', 'b1', 'c1']);
    await backend.pause();
    await backend.enqueue({ id: 'd1', user: 'd' });
    await backend.enqueue({ id: 'e1', user: 'e' });
    expect(await backend.clear()).toEqual(['d1', 'e1']);
    expect((await backend.snapshot()).queued).toEqual([]);
  });

  it('cancels a waiting job by removing it and a running one through its AbortSignal', async () => {
    const backend = new LocalBackend<J>({ concurrency: 1, limits });
    const reasons: unknown[] = [];
    backend.start(async (_job, { signal }) => {
      await waitAbort(signal).catch((r) => reasons.push(r));
    });
    await backend.enqueue({ id: 'a1', user: 'a' });
    await backend.enqueue({ id: 'b1', user: 'b' });
    await tick();
    expect(await backend.cancel('b1')).toBe('queued');
    expect(await backend.cancel('a1')).toBe('running');
    await tick();
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(JobAbort);
    expect((reasons[0] as JobAbort).why).toBe('canceled');
    expect(await backend.cancel('zz')).toBe('unknown');
    expect(await backend.snapshot()).toMatchObject({ queued: [], running: [] });
  });

  it('stop aborts running jobs with a shutdown reason, waits for them, and refuses new jobs', async () => {
    const backend = new LocalBackend<J>({ concurrency: 1, limits });
    const reasons: JobAbort[] = [];
    backend.start(async (_job, { signal }) => {
      await waitAbort(signal).catch((r) => reasons.push(r));
    });
    await backend.enqueue({ id: 'a1', user: 'a' });
    await backend.enqueue({ id: 'b1', user: 'b' });
    await tick();
    await backend.stop();
    expect(reasons.map((r) => r.why)).toEqual(['shutdown']);
    expect((await backend.snapshot()).queued).toEqual(['b1']);
    await expect(backend.enqueue({ id: 'c1', user: 'c' })).rejects.toMatchObject({ status: 503 });
  });

  it('checks caps on enqueue unless told to bypass them (recovery), and validates limits', async () => {
    const backend = new LocalBackend<J>({
      concurrency: 1,
      limits: { per_user: 1, max_queued: 5 },
      paused: true,
    });
    await backend.enqueue({ id: 'a1', user: 'a' });
    await expect(backend.enqueue({ id: 'a2', user: 'a' })).rejects.toMatchObject({
      status: 429,
      code: 'user_limit',
    });
    await backend.enqueue({ id: 'a2', user: 'a' }, { bypassCaps: true });
    expect(await backend.setLimits({ per_user: 3 })).toEqual({ per_user: 3, max_queued: 5 });
    await expect(backend.setLimits({ max_queued: 0 })).rejects.toMatchObject({ status: 400 });
    expect(() => new LocalBackend<J>({ concurrency: 0, limits })).toThrow(/concurrency/);
  });
});
