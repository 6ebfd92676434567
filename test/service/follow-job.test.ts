import { describe, expect, it } from 'vitest';
import { followJob } from '../../src/service/follow-job.ts';
import type { JobService, JobView } from '../../src/service/types.ts';

const view = (state: JobView['state'], step = 0) =>
  ({ id: 'j1', state, progress: { step } }) as unknown as JobView;

/** A job whose `get` reads the state at once but answers only when the test says so. */
class SlowReadJob {
  state: JobView = view('queued');
  readonly listeners = new Set<(job: JobView) => void>();
  #answers: Array<() => void> = [];
  subscribes = 0;

  subscribe(_id: string, listener: (job: JobView) => void): () => void {
    this.subscribes++;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  get(_id: string): Promise<JobView | undefined> {
    const read = this.state;
    return new Promise((resolve) => this.#answers.push(() => resolve(read)));
  }
  change(next: JobView): void {
    this.state = next;
    for (const l of [...this.listeners]) l(next);
  }
  answer(): void {
    for (const a of this.#answers.splice(0)) a();
  }
}

const asService = (job: SlowReadJob) => job as unknown as Pick<JobService, 'subscribe' | 'get'>;

describe('followJob', () => {
  it('does not lose an event that fires between subscribing and the read answering', async () => {
    const job = new SlowReadJob();
    const seen: string[] = [];
    const following = followJob(asService(job), 'j1', (v) => seen.push(v.state));
    // The read has taken the old state; the job ends before the read answers.
    job.change(view('succeeded'));
    job.answer();
    expect(await following.current).toMatchObject({ state: 'queued' });
    expect(seen).toEqual(['succeeded']);
    expect(job.listeners.size).toBe(0);
  });

  it('hands over the read first when nothing changed, then every change up to the end', async () => {
    const job = new SlowReadJob();
    job.state = view('running', 1);
    const seen: string[] = [];
    const following = followJob(asService(job), 'j1', (v) => seen.push(`${v.state}:${v.progress.step}`));
    job.answer();
    await following.current;
    job.change(view('running', 2));
    job.change(view('failed', 2));
    job.change(view('failed', 3)); // after the end: not handed over
    expect(seen).toEqual(['running:1', 'running:2', 'failed:2']);
    expect(job.listeners.size).toBe(0);
  });

  it('stops on demand and answers undefined for a job that does not exist', async () => {
    const job = new SlowReadJob();
    const seen: string[] = [];
    const following = followJob(
      { subscribe: job.subscribe.bind(job), get: async () => undefined },
      'j1',
      (v) => seen.push(v.state),
    );
    expect(await following.current).toBeUndefined();
    following.stop();
    following.stop();
    job.change(view('running'));
    expect(seen).toEqual([]);
    expect(job.listeners.size).toBe(0);
  });

  it('drops a subscription whose listener saw the end while subscribing', async () => {
    let dropped = 0;
    const seen: string[] = [];
    const following = followJob(
      {
        subscribe: (_id, listener) => {
          listener(view('canceled'));
          return () => dropped++;
        },
        get: async () => view('canceled'),
      },
      'j1',
      (v) => seen.push(v.state),
    );
    await following.current;
    expect(dropped).toBe(1);
    expect(seen).toEqual(['canceled']);
  });
});
