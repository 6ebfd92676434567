/**
 * PREVIEW_IN_CHAT=1 on Slack: one still of the live preview in the thread at about half-way (each
 * image is an upload); off by default. Counts the Web API calls per job both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, CHANNEL, PICTURE, type Rig, startRig } from './harness.ts';

async function job(rig: Rig) {
  const { fake, slack } = rig;
  const start = fake.calls.length;
  const file = fake.addFile({ name: 'p.png', mimetype: 'image/png', data: PICTURE });
  const { message } = await slack.mention({
    user: ALICE,
    channel: CHANNEL,
    text: '--frames 8 --steps 40',
    files: [file],
  });
  const inThread = () => [...fake.ws.files.values()].filter((f) => f.thread_ts === message.ts);
  await fake.waitFor('video', () => inThread().find((f) => f.mimetype === 'video/mp4'), 180_000);
  await fake.waitFor('delivered', () =>
    rig.sidecar.service.list(`slack:T0FAKE:${ALICE.id}`).then((j) => j.every((x) => x.delivered)),
  );
  return { calls: fake.calls.slice(start), files: inThread() };
}

describe('PREVIEW_IN_CHAT on Slack', () => {
  let on: Rig;
  let off: Rig;
  beforeAll(async () => {
    on = await startRig({ env: { PREVIEW_IN_CHAT: '1' } });
    off = await startRig();
  }, 120_000);
  afterAll(async () => {
    await on?.close();
    await off?.close();
  });

  it('on: exactly one preview still in the thread, before the video', async () => {
    const { calls, files } = await job(on);
    const stills = files.filter((f) => f.name === 'preview.png');
    expect(stills).toHaveLength(1);
    const png = on.fake.uploads.filter((u) => u.bytes.subarray(1, 4).toString('latin1') === 'PNG');
    expect(png).toHaveLength(1);
    expect(files.indexOf(stills[0]!)).toBeLessThan(files.findIndex((f) => f.mimetype === 'video/mp4'));
    process.stderr.write(`preview-in-chat slack ON: ${calls.length} Web API calls per job\n`);
  });

  it('off (the default): no preview', async () => {
    const { calls, files } = await job(off);
    expect(files.filter((f) => f.name === 'preview.png')).toHaveLength(0);
    process.stderr.write(`preview-in-chat slack OFF: ${calls.length} Web API calls per job\n`);
  });
});
