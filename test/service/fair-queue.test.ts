import { describe, expect, it } from 'vitest';
import { FairQueue } from '../../src/service/fair-queue.ts';
import { ServiceError } from '../../src/service/types.ts';

type J = { id: string; user: string };
const job = (user: string, n: number): J => ({ id: `${user}${n}`, user });
const caps = { per_user: 100, max_queued: 100 };

function drainOrder(q: FairQueue<J>): string[] {
  const out: string[] = [];
  for (let j = q.shift(); j; j = q.shift()) {
    out.push(j.id);
    q.finish(j.user, j.id);
  }
  return out;
}

describe('FairQueue', () => {
  it('serves users round-robin: 20 jobs of one user hold back a newcomer by at most one job', () => {
    const q = new FairQueue<J>();
    for (let i = 1; i <= 20; i++) q.push(job('a', i));
    q.push(job('b', 1));
    expect(q.position('b1')).toBe(2);
    const order = drainOrder(q);
    expect(order.slice(0, 3)).toEqual(['a1', 'b1', 'a2']);
    expect(order).toHaveLength(21);
  });

  it('interleaves several users in arrival order of users, and predicts the same order it serves', () => {
    const q = new FairQueue<J>();
    for (const id of ['a1', 'a2', 'a3', 'b1', 'c1', 'c2']) q.push({ id, user: id[0]! });
    const predicted = q.ordered().map((j) => j.id);
    expect(predicted).toEqual(['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
    expect(drainOrder(q)).toEqual(predicted);
  });

  it('makes a user who arrives mid-round wait for at most one job of each other user', () => {
    const q = new FairQueue<J>();
    for (const id of ['a1', 'a2', 'b1', 'b2']) q.push({ id, user: id[0]! });
    expect(q.shift()!.id).toBe('a1');
    q.push(job('c', 1));
    expect(drainOrder(q)).toEqual(['b1', 'a2', 'c1', 'b2']);
  });

  it('counts queued and running jobs against the per-user cap and names the cap', () => {
    const q = new FairQueue<J>();
    const small = { per_user: 2, max_queued: 10 };
    q.push(job('a', 1));
    q.push(job('a', 2));
    const err = (() => {
      try {
        q.checkCaps('a', small);
      } catch (e) {
        return e as ServiceError;
      }
    })();
    expect(err).toBeInstanceOf(ServiceError);
    expect(err!.status).toBe(429);
    expect(err!.code).toBe('user_limit');
    // A running job still counts; a finished one no longer does.
    const running = q.shift()!;
    expect(() => q.checkCaps('a', small)).toThrow(/limit 2 per user/);
    q.finish(running.user, running.id);
    expect(() => q.checkCaps('a', small)).not.toThrow();
    expect(() => q.checkCaps('b', small)).not.toThrow();
  });

  it('refuses with queue_full at the global cap, whoever asks', () => {
    const q = new FairQueue<J>();
    for (let i = 0; i < 3; i++) q.push(job(`u${i}`, 1));
    try {
      q.checkCaps('new', { per_user: 3, max_queued: 3 });
      expect.unreachable();
    } catch (e) {
      expect((e as ServiceError).code).toBe('queue_full');
      expect((e as ServiceError).status).toBe(429);
    }
  });

  it('removes waiting jobs, drains, and puts a job back at the front', () => {
    const q = new FairQueue<J>();
    for (const id of ['a1', 'a2', 'b1']) q.push({ id, user: id[0]! });
    expect(q.remove('a1')?.id).toBe('a1');
    expect(q.remove('zz')).toBeUndefined();
    expect(q.ordered().map((j) => j.id)).toEqual(['a2', 'b1']);
    q.push(job('c', 1), true);
    expect(q.position('c1')).toBe(1);
    expect(q.drain().map((j) => j.id)).toEqual(['c1', 'a2', 'b1']);
    expect(q.size).toBe(0);
    expect(q.shift()).toBeUndefined();
    expect(caps.per_user).toBe(100);
  });
});
