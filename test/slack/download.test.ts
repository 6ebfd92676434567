/**
 * Slack picture downloads against the fake's private file URLs: the bot token is sent, kept across
 * redirects only to allowed hosts, the sign-in page Slack serves without a token is refused, and
 * the size is capped. The last cases go through the whole bot (mention → ephemeral error).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SlackConfig } from '../../bots/slack/config.ts';
import { downloadSlackImage } from '../../bots/slack/slack-files.ts';
import { DownloadError } from '../../src/chat/index.ts';
import { ALICE, CHANNEL, ephemeralsFor, PICTURE, type Rig, startRig } from './harness.ts';

let rig: Rig;
let config: SlackConfig;

beforeAll(async () => {
  rig = await startRig({ cold: true });
  config = rig.bot.config;
});

afterAll(async () => {
  await rig?.close();
});

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof DownloadError) return err.code;
    throw err;
  }
};

describe('downloadSlackImage', () => {
  it('sends the bot token and returns the picture', async () => {
    const file = rig.fake.addFile({ name: 'a.png', mimetype: 'image/png', data: PICTURE });
    const bytes = await downloadSlackImage(config, file);
    expect(bytes.equals(PICTURE)).toBe(true);
    expect(rig.fake.downloads.at(-1)).toMatchObject({ authorized: true, status: 200 });
  });

  it('keeps the token across a redirect to an allowed host', async () => {
    const target = rig.fake.addFile({ name: 'b.png', mimetype: 'image/png', data: PICTURE });
    const hop = rig.fake.addFile({
      name: 'b.png',
      mimetype: 'image/png',
      data: PICTURE,
      redirect: target.url_private_download,
    });
    const before = rig.fake.downloads.length;
    expect((await downloadSlackImage(config, hop)).equals(PICTURE)).toBe(true);
    const hops = rig.fake.downloads.slice(before);
    expect(hops.map((d) => [d.status, d.authorized])).toEqual([
      [302, true],
      [200, true],
    ]);
  });

  it('does not follow a redirect to a host off the list, so the token never reaches it', async () => {
    const offList = rig.fake.addFile({ name: 'c.png', mimetype: 'image/png', data: PICTURE, host: 'other' });
    const hop = rig.fake.addFile({
      name: 'c.png',
      mimetype: 'image/png',
      data: PICTURE,
      redirect: offList.url_private_download,
    });
    const before = rig.fake.downloads.length;
    expect(await code(downloadSlackImage(config, hop))).toBe('host_not_allowed');
    const otherHost = new URL(rig.fake.otherOrigin).host;
    expect(rig.fake.downloads.slice(before).some((d) => d.host === otherHost)).toBe(false);
  });

  it('sends the token only to Slack: not to another allowed host, nor across a redirect to one', async () => {
    // The fake's second server plays another ATTACHMENT_HOSTS entry (a CDN), which is no Slack host.
    const otherHost = new URL(rig.fake.otherOrigin).host;
    const both: SlackConfig = { ...config, attachmentHosts: [rig.fake.host, otherHost] };
    expect(both.tokenHosts).toContain(rig.fake.host);
    expect(both.tokenHosts).not.toContain(otherHost);
    const elsewhere = rig.fake.addFile({
      name: 'f.png',
      mimetype: 'image/png',
      data: PICTURE,
      host: 'other',
    });
    const before = rig.fake.downloads.length;
    // A file on that host: fetched without the token (and the fake, like Slack, then serves its sign-in page).
    expect(await code(downloadSlackImage(both, elsewhere))).toBe('not_image');
    // A redirect from the Slack host to it: the Slack hop gets the token, the next one does not.
    const hop = rig.fake.addFile({
      name: 'f.png',
      mimetype: 'image/png',
      data: PICTURE,
      redirect: elsewhere.url_private_download,
    });
    expect(await code(downloadSlackImage(both, hop))).toBe('not_image');
    expect(rig.fake.downloads.slice(before).map((d) => [d.host, d.status, d.authorized])).toEqual([
      [otherHost, 200, false],
      [rig.fake.host, 302, true],
      [otherHost, 200, false],
    ]);
    // The Slack host itself still gets it: the picture comes back.
    const own = rig.fake.addFile({ name: 'g.png', mimetype: 'image/png', data: PICTURE });
    expect((await downloadSlackImage(both, own)).equals(PICTURE)).toBe(true);
    expect(rig.fake.downloads.at(-1)).toMatchObject({ host: rig.fake.host, authorized: true, status: 200 });
  });

  it('refuses the HTML sign-in page Slack answers without a valid token', async () => {
    const file = rig.fake.addFile({ name: 'd.png', mimetype: 'image/png', data: PICTURE });
    const wrong = { ...config, botToken: 'xoxb-revoked' };
    expect(await code(downloadSlackImage(wrong, file))).toBe('not_image');
    expect(rig.fake.downloads.at(-1)).toMatchObject({ authorized: false, status: 200 });
  });

  it('caps the size, from files.info and while reading', async () => {
    const small: SlackConfig = { ...config, maxImageBytes: Math.floor(PICTURE.length / 2) };
    const file = rig.fake.addFile({ name: 'e.png', mimetype: 'image/png', data: PICTURE });
    const before = rig.fake.downloads.length;
    expect(await code(downloadSlackImage(small, file))).toBe('too_large');
    expect(rig.fake.downloads.length).toBe(before);
    // A file object that understates its size is still cut off while streaming.
    const lying = { ...file, size: 10 };
    expect(await code(downloadSlackImage(small, lying))).toBe('too_large');
  });
});

describe('through the bot', () => {
  it('answers a picture on a host off the list with an ephemeral error', async () => {
    const file = rig.fake.addFile({ name: 'far.png', mimetype: 'image/png', data: PICTURE, host: 'other' });
    const before = ephemeralsFor(rig.fake, ALICE.id).length;
    await rig.slack.mention({ user: ALICE, channel: CHANNEL, text: 'go', files: [file] });
    const text = await rig.fake.waitFor('ephemeral', () => ephemeralsFor(rig.fake, ALICE.id)[before]);
    expect(text).toContain('can only be downloaded from');
  });

  it('answers a picture over the size cap with an ephemeral error', async () => {
    const big = Buffer.concat([PICTURE, Buffer.alloc(21_000_000)]);
    const file = rig.fake.addFile({ name: 'huge.png', mimetype: 'image/png', data: big });
    const before = ephemeralsFor(rig.fake, ALICE.id).length;
    await rig.slack.mention({ user: ALICE, channel: CHANNEL, text: 'go', files: [file] });
    const text = await rig.fake.waitFor('ephemeral', () => ephemeralsFor(rig.fake, ALICE.id)[before]);
    expect(text).toMatch(/too large/);
  });
});
