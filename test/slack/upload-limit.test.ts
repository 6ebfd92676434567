/**
 * Results over the upload limit in Slack (SLACK_MAX_UPLOAD_MB low, and the fake Slack refusing
 * bigger files): re-encoded and said so, or, when even that cannot fit, a signed link with
 * PUBLIC_URL and a clear refusal without.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultLinks } from '../../src/service/result-links.ts';
import { ALICE, CHANNEL, PICTURE, probe, type Rig, startRig } from './harness.ts';

const links = new ResultLinks({
  publicUrl: 'https://bot.example',
  secret: 'a-test-secret-that-is-long-enough-0123456789',
  ttlMs: 24 * 3_600_000,
});

async function rigWithLimit(bytes: number, withLinks: boolean): Promise<Rig> {
  const rig = await startRig({
    env: { SLACK_MAX_UPLOAD_MB: String(bytes / 1_000_000) },
    ...(withLinks ? { resultLinks: links } : {}),
  });
  rig.fake.maxUploadBytes = bytes;
  return rig;
}

/** Mentions the bot with a picture; answers the bot's replies in that thread once one mentions the limit. */
async function mention(rig: Rig, options: string) {
  const { fake, slack } = rig;
  const file = fake.addFile({ name: 'p.png', mimetype: 'image/png', data: PICTURE });
  const { message } = await slack.mention({ user: ALICE, channel: CHANNEL, text: options, files: [file] });
  const inThread = () =>
    fake.ws.messages.filter((m) => m.user === fake.botUserId && m.thread_ts === message.ts);
  await fake.waitFor(
    'reply about the limit',
    () => inThread().find((m) => /upload limit/.test(m.text)),
    120_000,
  );
  return { thread: message.ts, replies: inThread() };
}

describe('Slack upload limit, with PUBLIC_URL', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await rigWithLimit(4300, true);
  });
  afterAll(async () => rig?.close());

  it('posts a signed, expiring link when even the re-encode cannot fit', async () => {
    const { replies } = await mention(rig, '--frames 4 --steps 1');
    const text = replies.find((m) => /upload limit/.test(m.text))!.text;
    expect(text).toMatch(/even re-encoded.*expires in 24 h/);
    const url = new URL(/https:\/\/bot\.example\/links\/\S+/.exec(text)![0]);
    expect(
      links.check(url.pathname.split('/')[2]!, url.searchParams.get('exp'), url.searchParams.get('sig')),
    ).toBe('ok');
    expect(rig.fake.uploads).toHaveLength(0);
  });
});

describe('Slack upload limit, without PUBLIC_URL', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await rigWithLimit(9000, false);
  });
  afterAll(async () => rig?.close());

  it('uploads the re-encode under the limit and says it was reduced', async () => {
    const { thread } = await mention(rig, '--frames 8 --steps 1');
    const video = [...rig.fake.ws.files.values()].find(
      (f) => f.thread_ts === thread && f.mimetype === 'video/mp4',
    )!;
    expect(video.initial_comment).toMatch(/reduced: re-encoded from .* to fit the 9 KB upload limit/);
    const upload = rig.fake.uploads.at(-1)!;
    expect(upload.bytes.length).toBeLessThanOrEqual(9000);
    expect(probe(upload.bytes)).toMatchObject({ codec: 'h264', frames: 8 });
  });

  it('says so when it cannot fit at all, with no link', async () => {
    const small = await rigWithLimit(4300, false);
    try {
      const { replies } = await mention(small, '--frames 4 --steps 1');
      const text = replies.find((m) => /upload limit/.test(m.text))!.text;
      expect(text).toMatch(/does not fit the .* upload limit/);
      expect(text).not.toContain('/links/');
    } finally {
      await small.close();
    }
  });
});
