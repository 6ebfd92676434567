/**
 * Slack's 🔁 Reroll always gets a new seed: driven by a random source that first repeats the old
 * seed, the new job still gets a different one (the shared followUpOptions draws again). Before,
 * Slack sent `seed: undefined` and the engine's own draw could repeat the seed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buttonIds } from '../fakes/slack/driver.ts';
import { ALICE, mentionWithPicture, type Rig, startRig } from './harness.ts';

let rig: Rig;
const draws: number[] = [];
/** Repeats the first job's seed (11) twice, then gives 4242. */
const source = [11, 11, 4242];

beforeAll(async () => {
  rig = await startRig({
    randomSeed: () => {
      const seed = source[Math.min(draws.length, source.length - 1)]!;
      draws.push(seed);
      return seed;
    },
  });
});

afterAll(async () => {
  await rig?.close();
});

describe('Slack Reroll', () => {
  it('never repeats the seed, even when the random source does', async () => {
    const { fake, slack, sidecar } = rig;
    const { message } = await mentionWithPicture(rig, ALICE, '--frames 2 --steps 1 --seed 11');
    const status = await fake.waitFor('status', () =>
      fake.ws.messages.find((m) => m.user === fake.botUserId && m.thread_ts === message.ts && !m.files),
    );
    await fake.waitFor('result', () => buttonIds(status).includes('stillmotion_reroll'));
    await slack.clickButton(status, 'stillmotion_reroll', ALICE);
    const videos = () =>
      [...fake.ws.files.values()].filter((f) => f.thread_ts === message.ts && f.mimetype === 'video/mp4');
    await fake.waitFor('the rerolled video', () => videos().length === 2);
    expect(videos()[1]!.initial_comment).toContain('--seed 4242');
    const jobs = await sidecar.service.list('slack:T0FAKE:U0ALICE');
    expect(jobs.map((j) => j.seed)).toEqual([4242, 11]); // newest first
    expect(draws).toEqual([11, 11, 4242]);
  });
});
