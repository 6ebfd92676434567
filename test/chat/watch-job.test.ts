import { describe, expect, it } from 'vitest';
import { watchJob } from '../../src/chat/watch-job.ts';
import type { JobService, JobView } from '../../src/service/types.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const running = (step: number) =>
  ({
    id: 'j1',
    state: 'running',
    progress: { step, steps: 4, chunk: 0, chunks: 0 },
    eta_s: 10,
  }) as unknown as JobView;
const done = { id: 'j1', state: 'succeeded' } as unknown as JobView;

/** A job that changes when the test says so. */
class ScriptedJob {
  state: JobView = running(0);
  readonly listeners = new Set<(job: JobView) => void>();
  subscribe(_id: string, listener: (job: JobView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async get(_id: string): Promise<JobView | undefined> {
    return this.state;
  }
  change(next: JobView): void {
    this.state = next;
    for (const l of [...this.listeners]) l(next);
  }
}

describe('watchJob', () => {
  it('ends only after an edit in flight has finished, and says when it finished', async () => {
    const job = new ScriptedJob();
    const edits: { start: number; end: number }[] = [];
    const watching = watchJob(job as unknown as JobService, 'j1', {
      escape: (t) => t,
      intervalMs: 50,
      // A slow chat API: each edit takes 300 ms to land.
      show: async () => {
        const start = Date.now();
        await sleep(300);
        edits.push({ start, end: Date.now() });
      },
    });
    await sleep(20);
    job.change(running(1));
    await sleep(20); // the edit of step 1 is in flight now
    job.change(done);
    const result = await watching;
    // Resolving earlier would let the caller's own next edit (the result) land within the interval
    // of this one: Slack spaces its result edit from lastEditEndedAt.
    expect(edits.length).toBeGreaterThanOrEqual(1);
    // The watcher takes its own clock reading once the edit's promise settles: the same millisecond as
    // the edit's end or a later one, never before it.
    expect(result.lastEditEndedAt).toBeGreaterThanOrEqual(edits.at(-1)!.end);
    expect(result.lastEditEndedAt).toBeLessThanOrEqual(Date.now());
    expect(result.edits).toBe(edits.length);
    expect(result.job.state).toBe('succeeded');
  });

  it('reports no edit when the job had already ended', async () => {
    const job = new ScriptedJob();
    job.state = done;
    let shown = 0;
    const result = await watchJob(job as unknown as JobService, 'j1', {
      escape: (t) => t,
      show: async () => void shown++,
    });
    expect(shown).toBe(0);
    expect(result.edits).toBe(0);
    expect(result.lastEditEndedAt).toBe(Number.NEGATIVE_INFINITY);
  });
});
