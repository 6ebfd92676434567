import { describe, expect, it } from 'vitest';
import { type AdminScope, checkRange, runAdminAction } from '../../src/chat/admin.ts';
import { Refusal } from '../../src/chat/refusal.ts';
import { PER_USER_LIMIT } from '../../src/service/admin-ranges.ts';
import type { JobService, JobView, QueueView } from '../../src/service/types.ts';

const job = (id: string, user: string, position: number) =>
  ({
    id,
    user,
    state: 'queued',
    position,
    progress: { step: 0, steps: 0 },
    created_at: Date.now(),
  }) as JobView;

const queue: QueueView = {
  paused: false,
  limits: { per_user: 3, max_queued: 50 },
  running: [],
  queued: [job('a1', 'discord:1', 1), job('b1', 'discord:2', 2)],
};
const service = { queue: async () => queue, setLimits: async () => queue.limits } as unknown as JobService;
const scope = (operator: boolean): AdminScope => ({
  actor: { user: 'discord:9', admin: true },
  operator,
  here: (j) => j.id.startsWith('a'),
  place: 'server',
  others: 'of other servers or Slack',
});

describe('admin actions', () => {
  it('one range for the per-user limit: 1–1000, named in the refusal', () => {
    expect(PER_USER_LIMIT).toEqual({ min: 1, max: 1000 });
    expect(checkRange('The per-user limit', 1000, PER_USER_LIMIT)).toBe(1000);
    expect(() => checkRange('The per-user limit', 1001, PER_USER_LIMIT)).toThrow(Refusal);
    expect(() => checkRange('The per-user limit', 2.5, PER_USER_LIMIT)).toThrow('within 1–1000 (got 2.5)');
  });

  it('refuses an out-of-range limit before it reaches the service', async () => {
    let set = 0;
    const setLimits = async () => {
      set++;
      return queue.limits;
    };
    const counting = { ...service, setLimits } as unknown as JobService;
    await expect(runAdminAction(counting, scope(true), { action: 'limit', perUser: 0 })).rejects.toThrow(
      Refusal,
    );
    expect(set).toBe(0);
  });

  it('lists the jobs here in full and only counts the rest, unless an operator asks', async () => {
    const admin = await runAdminAction(service, scope(false), { action: 'list' });
    expect(admin.head).toBe('Queue running · 0 running, 2 queued · limits: 3 per user, 50 queued');
    expect(admin.lines).toHaveLength(2);
    expect(admin.lines[0]).toMatch(/^`a1` queued #1 · discord:1 · 0s old · ETA /);
    expect(admin.lines[1]).toBe('(+ 1 job of other servers or Slack)');
    const operator = await runAdminAction(service, scope(true), { action: 'list' });
    expect(operator.lines[1]).toMatch(/^`b1` queued #2 · elsewhere ·/);
    expect(operator.lines.join('\n')).not.toContain('discord:2');
  });
});
