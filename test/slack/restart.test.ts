/**
 * Restarts: results are delivered to the stored channel and thread after the bot comes back, and
 * exactly once. Both rigs share the fake Slack and the DATA_DIR (the job journal).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';
import { ALICE, CHANNEL, PICTURE, probe, startRig } from './harness.ts';

let fake: FakeSlack;

beforeAll(async () => {
  fake = await FakeSlack.start();
});

afterAll(async () => {
  await fake?.close();
});

async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('timed out');
}

const videosIn = (thread: string) =>
  [...fake.ws.files.values()].filter((f) => f.thread_ts === thread && f.mimetype === 'video/mp4');

describe('after a restart', () => {
  it('delivers a result whose upload failed before the restart, once', async () => {
    const first = await startRig({ fake });
    const file = fake.addFile({ name: 'a.png', mimetype: 'image/png', data: PICTURE });
    fake.outage.add('files.getUploadURLExternal');
    const { message } = await first.slack.mention({
      user: ALICE,
      channel: CHANNEL,
      text: 'sun --frames 2 --steps 1',
      files: [file],
    });
    const job = await until(async () => (await first.sidecar.service.list('slack:T0FAKE:U0ALICE'))[0]);
    await fake.waitFor('the failed upload attempt', () =>
      first.logs.some((l) => l.msg === 'slack: could not follow the job'),
    );
    expect((await first.sidecar.service.get(job!.id))!).toMatchObject({
      state: 'succeeded',
      delivered: false,
    });
    await first.close({ keepData: true });
    fake.outage.clear();

    const second = await startRig({ fake, dataDir: first.dataDir });
    try {
      const [video] = videosIn(message.ts);
      expect(video).toBeDefined();
      expect(probe(video!.data).frames).toBe(2);
      expect((await second.sidecar.service.get(job!.id))!.delivered).toBe(true);
      expect(
        second.logs.some((l) => l.msg === 'slack: resumed jobs from before the restart' && l.delivered === 1),
      ).toBe(true);
    } finally {
      await second.close({ keepData: true });
    }
    // A third start finds nothing left to post.
    const third = await startRig({ fake, dataDir: first.dataDir, cold: true });
    await third.close();
    expect(videosIn(message.ts)).toHaveLength(1);
  });

  it('retries a failed delivery on its own, without a restart', async () => {
    const rig = await startRig({ fake, sweepMs: 300 });
    try {
      const file = fake.addFile({ name: 'c.png', mimetype: 'image/png', data: PICTURE });
      fake.outage.add('files.completeUploadExternal');
      const { message } = await rig.slack.mention({
        user: ALICE,
        channel: CHANNEL,
        text: '--frames 2 --steps 1',
        files: [file],
      });
      await fake.waitFor('a failed upload', () =>
        rig.logs.some((l) => l.msg === 'slack: could not follow the job'),
      );
      expect(videosIn(message.ts)).toHaveLength(0);
      fake.outage.clear();
      await fake.waitFor('the video', () => videosIn(message.ts).length === 1);
      const job = await until(async () =>
        (await rig.sidecar.service.list('slack:T0FAKE:U0ALICE')).find((j) => j.delivered),
      );
      expect(job.state).toBe('succeeded');
      await new Promise((r) => setTimeout(r, 700));
      expect(videosIn(message.ts)).toHaveLength(1);
    } finally {
      await rig.close();
    }
  });

  it('after repeated failures, tells the user in a DM and stops retrying', async () => {
    const rig = await startRig({ fake, sweepMs: 100 });
    try {
      const file = fake.addFile({ name: 'd.png', mimetype: 'image/png', data: PICTURE });
      fake.outage.add('files.completeUploadExternal');
      await rig.slack.mention({ user: ALICE, channel: CHANNEL, text: '--frames 2 --steps 1', files: [file] });
      const dm = await fake.waitFor('DM', () =>
        fake.ws.messages.find((m) => m.channel === ALICE.id && m.text.includes('could not post it')),
      );
      expect(dm.text).toContain('after 5 tries');
      const job = await until(async () =>
        (await rig.sidecar.service.list('slack:T0FAKE:U0ALICE')).find((j) => j.delivered),
      );
      expect(job.state).toBe('succeeded');
    } finally {
      fake.outage.clear();
      await rig.close();
    }
  });

  it('follows a job that was still queued when the bot stopped, into the same thread', async () => {
    const first = await startRig({ fake, cold: true });
    const file = fake.addFile({ name: 'b.png', mimetype: 'image/png', data: PICTURE });
    const { message } = await first.slack.mention({
      user: ALICE,
      channel: CHANNEL,
      text: 'moon --frames 2 --steps 1',
      files: [file],
    });
    const status = await fake.waitFor('status', () =>
      fake.ws.messages.find(
        (m) => m.thread_ts === message.ts && m.user === fake.botUserId && m.text.includes('Queued'),
      ),
    );
    await first.close({ keepData: true });

    const second = await startRig({ fake, dataDir: first.dataDir });
    try {
      const [video] = await fake.waitFor(
        'video',
        () => videosIn(message.ts).length > 0 && videosIn(message.ts),
      );
      expect(probe(video!.data).frames).toBe(2);
      await fake.waitFor('status shows the result', () => status.text.startsWith('✅ Done'));
    } finally {
      await second.close();
    }
  });
});
