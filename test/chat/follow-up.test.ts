import { describe, expect, it } from 'vitest';
import { followUpOptions, newSeed, pressedJob } from '../../src/chat/follow-up.ts';
import { Refusal } from '../../src/chat/refusal.ts';
import type { JobView } from '../../src/service/types.ts';

const job = (motion: number, seed = 11) =>
  ({
    id: 'j1',
    user: 'slack:T:U1',
    seed,
    options: { prompt: 'waves', motion, fps: 7, frames: 2, steps: 1, seed, loop: 'pingpong' },
  }) as unknown as JobView;

const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
};

describe('follow-up options', () => {
  it('Reroll draws again until the seed differs, and keeps every other option', () => {
    expect(newSeed(11, sequence(11, 11, 12))).toBe(12);
    expect(followUpOptions(job(100), 'reroll', sequence(11, 5))).toMatchObject({
      seed: 5,
      motion: 100,
      loop: 'pingpong',
    });
  });

  it('More / Less motion step by 50 with the same seed, and refuse outside 1–255', () => {
    expect(followUpOptions(job(100), 'more')).toMatchObject({ motion: 150, seed: 11, loop: 'pingpong' });
    expect(followUpOptions(job(100), 'less')).toMatchObject({ motion: 50, seed: 11 });
    expect(() => followUpOptions(job(230), 'more')).toThrow(Refusal);
    expect(() => followUpOptions(job(30), 'less')).toThrow(/Motion is already 30; it must stay within 1–255/);
  });
});

describe('pressedJob', () => {
  const service = { get: async (id: string) => (id === 'j1' ? job(100) : undefined) };
  const presser = (user: string, admin = false, refused: string[] = []) => ({
    user,
    isAdmin: () => admin,
    owner: () => '<@U1>',
    onRefused: (j: JobView) => refused.push(j.id),
  });

  it('lets the owner and admins act, and refuses anyone else (logged through onRefused)', async () => {
    expect((await pressedJob(service, 'j1', presser('slack:T:U1'))).actor).toEqual({
      user: 'slack:T:U1',
      admin: false,
    });
    expect((await pressedJob(service, 'j1', presser('slack:T:U9', true))).actor.admin).toBe(true);
    const refused: string[] = [];
    await expect(pressedJob(service, 'j1', presser('slack:T:U9', false, refused))).rejects.toThrow(
      'Only <@U1> or an admin can use these buttons.',
    );
    expect(refused).toEqual(['j1']);
    await expect(pressedJob(service, 'gone', presser('slack:T:U1'))).rejects.toMatchObject({ status: 404 });
  });
});
