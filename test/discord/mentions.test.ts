import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeUser } from '../fakes/discord/fake-discord.ts';
import { type Harness, isFilePost, probeUpload, startHarness } from './harness.ts';

let h: Harness;
let carol: FakeUser;

beforeAll(async () => {
  h = await startHarness();
  carol = h.fake.user('carol');
});

afterAll(async () => {
  await h?.stop();
});

const mention = () => `<@${h.fake.appId}>`;

describe('mentions', () => {
  it('a reply to a message with a picture, mentioning the bot, animates it in a thread', async () => {
    const { fake } = h;
    const poster = fake.user('poster');
    const original = fake.postMessage({
      author: poster,
      content: 'look at this',
      attachments: [fake.attachment(fake.upload('sea.png', h.png, 'image/png'))],
    });
    const start = fake.calls.length;
    const ask = fake.postMessage({
      author: carol,
      content: `${mention()} waves crashing --frames 2 -steps 1 --seed=42`,
      replyTo: original,
      mentionBot: true,
    });
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    const calls = fake.calls.slice(start);
    const status = calls.find(
      (c) => c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages`,
    )!;
    expect(status.body.message_reference.message_id).toBe(ask.id);
    // The status reply is the thread's parent (a thread started on a message has its id).
    const statusId = post.path.split('/')[2]!;
    expect(fake.message(statusId)!.content).toMatch(/Done/);
    expect(
      calls.some(
        (c) => c.method === 'PATCH' && c.path === `/channels/${fake.channelId}/messages/${statusId}`,
      ),
    ).toBe(true);
    expect(calls.find((c) => c.path.endsWith('/threads'))!.path).toBe(
      `/channels/${fake.channelId}/messages/${statusId}/threads`,
    );
    expect(post.path).toBe(`/channels/${statusId}/messages`);
    expect(post.body.content).toContain('“waves crashing”');
    expect(post.body.content).toContain('seed 42');
    expect((await probeUpload(post.files[0]!.data)).nb_frames).toBe(2);
    console.info(`[discord metrics] mention job: ${calls.filter((c) => c.at <= post.at).length} REST calls`);
  });

  it('a mention with several attached pictures uses the first and says so', async () => {
    const { fake } = h;
    const start = fake.calls.length;
    fake.postMessage({
      author: carol,
      content: `${mention()} --frames 2 --steps 1`,
      mentionBot: true,
      attachments: [
        fake.attachment(fake.upload('a.png', h.png, 'image/png')),
        fake.attachment(fake.upload('b.png', h.png, 'image/png')),
      ],
    });
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    const status = fake.calls
      .slice(start)
      .find((c) => c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages`)!;
    expect(status.body.content).toContain('2 pictures: I used the first.');
    expect(post.files[0]!.contentType).toBe('video/mp4');
    expect(fake.cdn.requests.filter((p) => p.endsWith('/b.png'))).toHaveLength(0);
  });

  it('an image embed is downloaded through its proxy_url', async () => {
    const { fake } = h;
    const proxied = fake.upload('embed.png', h.png, 'image/png');
    const original = fake.postMessage({
      author: carol,
      content: 'https://elsewhere.example/pic.png',
      embeds: [
        {
          type: 'image',
          url: 'https://elsewhere.example/pic.png',
          thumbnail: {
            url: 'https://elsewhere.example/pic.png',
            proxy_url: proxied.url,
            width: 128,
            height: 64,
          },
        },
      ],
    });
    const start = fake.calls.length;
    fake.postMessage({
      author: carol,
      content: `${mention()} --frames 2 --steps 1`,
      replyTo: original,
      mentionBot: true,
    });
    await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    expect(fake.cdn.requests.some((p) => p.endsWith('/embed.png'))).toBe(true);
  });

  it('@bot help lists the options; bad text gets a reply that names the option', async () => {
    const { fake } = h;
    let start = fake.calls.length;
    fake.postMessage({ author: carol, content: `${mention()} help`, mentionBot: true });
    const help = await fake.waitForCall(
      (c) => c.method === 'POST' && c.path.startsWith('/channels/'),
      10_000,
      start,
    );
    for (const name of ['motion', 'fps', 'frames', 'steps', 'seed', 'noise', 'guidance', 'size', 'format']) {
      expect(help.body.content).toContain(`--${name}`);
    }
    start = fake.calls.length;
    fake.postMessage({
      author: carol,
      content: `${mention()} cat --speed 3`,
      mentionBot: true,
      attachments: [fake.attachment(fake.upload('c.png', h.png, 'image/png'))],
    });
    const bad = await fake.waitForCall(
      (c) => c.method === 'POST' && c.path.startsWith('/channels/'),
      10_000,
      start,
    );
    expect(bad.body.content).toMatch(/unknown option "--speed".*--motion/i);
    start = fake.calls.length;
    fake.postMessage({ author: carol, content: `${mention()} just text`, mentionBot: true });
    const none = await fake.waitForCall(
      (c) => c.method === 'POST' && c.path.startsWith('/channels/'),
      10_000,
      start,
    );
    expect(none.body.content).toMatch(/attach a picture, or reply to a message with one/);
  });

  it('in a DM, replies in place without a thread', async () => {
    const { fake } = h;
    const start = fake.calls.length;
    fake.postMessage({
      author: carol,
      content: `${mention()} --frames 2 --steps 1`,
      mentionBot: true,
      channelId: fake.dmChannelId,
      attachments: [fake.attachment(fake.upload('dm.png', h.png, 'image/png'))],
    });
    const post = await fake.waitForCall((c) => isFilePost(c), 15_000, start);
    await h.bot.idle();
    expect(post.path).toBe(`/channels/${fake.dmChannelId}/messages`);
    expect(fake.calls.slice(start).some((c) => c.path.endsWith('/threads'))).toBe(false);
  });

  it('ignores messages that do not mention the bot', async () => {
    const { fake } = h;
    const start = fake.calls.length;
    fake.postMessage({
      author: carol,
      content: 'nice --motion 3',
      attachments: [fake.attachment(fake.upload('d.png', h.png, 'image/png'))],
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.calls.slice(start)).toEqual([]);
  });
});

describe('message context menu "Animate"', () => {
  it('animates the message picture with defaults, in a thread', { timeout: 240_000 }, async () => {
    const { fake } = h;
    const target = fake.postMessage({
      author: fake.user('poster'),
      content: 'sunset',
      attachments: [fake.attachment(fake.upload('sunset.png', h.png, 'image/png'))],
    });
    // The context menu runs with the model's defaults (14 frames, 25 steps on the tiny model).
    const start = fake.calls.length;
    const ix = fake.contextMenu('Animate', target, { user: carol });
    const post = await fake.waitForCall((c) => isFilePost(c), 180_000, start);
    await h.bot.idle();
    expect(fake.callsFor(ix)[0]!.body.type).toBe(5);
    const statusId = fake.state.interactions.get(ix.id)!.originalId!;
    expect(post.path).toBe(`/channels/${statusId}/messages`);
    const probe = await probeUpload(post.files[0]!.data);
    expect(probe.nb_frames).toBe(14);
    expect(post.body.content).toContain('--frames 14 --steps 25');
  });

  it('refuses a message without a picture, ephemerally', async () => {
    const { fake } = h;
    const target = fake.postMessage({
      author: fake.user('poster'),
      content: 'no picture',
      attachments: [fake.attachment(fake.upload('doc.pdf', Buffer.from('%PDF'), 'application/pdf'))],
    });
    const ix = fake.contextMenu('Animate', target, { user: carol });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(cb.body.data.flags & 64).toBe(64);
    expect(cb.body.data.content).toMatch(/not a picture.*doc\.pdf.*application\/pdf/);
  });
});
