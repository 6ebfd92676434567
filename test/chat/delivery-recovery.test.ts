import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { DeliveryRecovery, type RecoveryPlatform } from '../../src/chat/delivery-recovery.ts';
import type { JobService, JobView, QueueView } from '../../src/service/types.ts';

const job = (id: string, platform: string, state: JobView['state'] = 'succeeded') =>
  ({ id, state, delivery: { platform } }) as unknown as JobView;

/** A service whose undelivered list shrinks as jobs are marked delivered. */
function fakeService(finished: JobView[], queue?: Partial<QueueView>) {
  const delivered: string[] = [];
  const service = {
    undelivered: async () => finished.filter((j) => !delivered.includes(j.id)),
    queue: async () => {
      if (!queue) throw new Error('no admin token');
      return { paused: false, limits: { per_user: 3, max_queued: 50 }, running: [], queued: [], ...queue };
    },
    markDelivered: async (id: string) => void delivered.push(id),
  } as unknown as Pick<JobService, 'undelivered' | 'queue' | 'markDelivered'>;
  return { service, delivered };
}

function platform(failFirst: number) {
  const calls = {
    delivered: [] as string[],
    followed: [] as string[],
    toldUser: [] as Array<[string, number]>,
  };
  let failures = 0;
  const p: RecoveryPlatform = {
    owns: (j) => (j.delivery as { platform: string }).platform === 'slack',
    deliver: async (j) => {
      if (failures++ < failFirst) throw new Error('upload refused');
      calls.delivered.push(j.id);
    },
    follow: (j) => void calls.followed.push(j.id),
    giveUp: async (j, attempts) => void calls.toldUser.push([j.id, attempts]),
  };
  return { p, calls };
}

const options = (active = new Set<string>()) => ({
  logger: pino({ level: 'silent' }),
  label: 'slack',
  active,
});

describe('the delivery-recovery policy', () => {
  it("posts the platform's finished jobs and follows its waiting ones; others and active ones are left", async () => {
    const { service } = fakeService([job('s1', 'slack'), job('d1', 'discord'), job('s2', 'slack')], {
      running: [job('s3', 'slack', 'running')],
      queued: [job('d2', 'discord', 'queued'), job('s4', 'slack', 'queued')],
    });
    const { p, calls } = platform(0);
    const recovery = new DeliveryRecovery(service, p, options(new Set(['s2', 's4'])));
    expect(await recovery.resume()).toEqual({ delivered: 1, followed: 1 });
    expect(calls.delivered).toEqual(['s1']);
    expect(calls.followed).toEqual(['s3']);
  });

  it('retries a failed delivery on each sweep; a later success ends the retries', async () => {
    const { service } = fakeService([job('s1', 'slack')]);
    const { p, calls } = platform(2);
    const recovery = new DeliveryRecovery(service, p, options());
    expect(await recovery.deliverFinished()).toBe(0);
    expect(await recovery.deliverFinished()).toBe(0);
    expect(await recovery.deliverFinished()).toBe(1);
    expect(calls.delivered).toEqual(['s1']);
    expect(calls.toldUser).toEqual([]);
  });

  it('after 5 failed tries tells the user once and marks the job delivered (no more tries)', async () => {
    const { service, delivered } = fakeService([job('s1', 'slack')]);
    const { p, calls } = platform(Number.POSITIVE_INFINITY);
    const recovery = new DeliveryRecovery(service, p, options());
    for (let i = 0; i < 4; i++) await recovery.deliverFinished();
    expect(calls.toldUser).toEqual([]);
    expect(delivered).toEqual([]);
    await recovery.deliverFinished();
    expect(calls.toldUser).toEqual([['s1', 5]]);
    expect(delivered).toEqual(['s1']);
    await recovery.deliverFinished();
    expect(calls.toldUser).toHaveLength(1);
  });

  it('follows nothing when the queue cannot be listed, and still delivers the finished jobs', async () => {
    const { service } = fakeService([job('s1', 'slack')]);
    const { p, calls } = platform(0);
    expect(await new DeliveryRecovery(service, p, options()).resume()).toEqual({ delivered: 1, followed: 0 });
    expect(calls.delivered).toEqual(['s1']);
  });
});
