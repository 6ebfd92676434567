import { describe, expect, it } from 'vitest';
import { ProgressThrottle } from '../../src/chat/throttle.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ProgressThrottle', () => {
  it('sends at most one value per interval, keeping only the latest, and always the final one', async () => {
    const sent: { value: number; at: number }[] = [];
    const t = new ProgressThrottle<number>(
      async (value) => {
        sent.push({ value, at: Date.now() });
        await sleep(5);
      },
      { intervalMs: 100 },
    );
    for (let i = 1; i <= 30; i++) {
      t.update(i);
      await sleep(10);
    }
    await t.final(99);
    expect(sent[0]!.value).toBe(1);
    expect(sent.at(-1)!.value).toBe(99);
    expect(sent.length).toBeLessThanOrEqual(6);
    expect(sent.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.at - sent[i - 1]!.at).toBeGreaterThanOrEqual(95);
    expect(t.stats.sent).toBe(sent.length);
    expect(t.stats.skipped).toBeGreaterThan(20);
  });

  it('skips a value equal to the last one sent, and never sends after close', async () => {
    const sent: string[] = [];
    const t = new ProgressThrottle<string>(async (v) => void sent.push(v), { intervalMs: 20 });
    t.update('a');
    await sleep(40);
    t.update('a');
    await sleep(40);
    await t.final('a');
    expect(sent).toEqual(['a']);
    const u = new ProgressThrottle<string>(async (v) => void sent.push(v), { intervalMs: 20 });
    u.update('b');
    u.close();
    await sleep(40);
    expect(sent).toEqual(['a']);
  });

  it('reports a failing intermediate send and goes on; a failing final send rejects', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const t = new ProgressThrottle<number>(
      async () => {
        calls++;
        throw new Error('boom');
      },
      { intervalMs: 10, onError: (e) => errors.push(e) },
    );
    t.update(1);
    await sleep(30);
    expect(errors).toHaveLength(1);
    await expect(t.final(2)).rejects.toThrow('boom');
    expect(calls).toBe(2);
  });
});
