import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { editGaps, type Harness, isFilePost, probeUpload, SMALL, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

// A test that paused the queue and then failed must not leave the next ones waiting forever.
afterEach(async () => {
  await h?.sidecar.service.resume();
});

afterAll(async () => {
  await h?.stop();
});

const route = (path: string) => path.replace(/\d{5,}|itok-[^/]+/g, ':id');

describe('/animate', () => {
  it('defers, edits its progress, and posts a valid MP4 in a thread on its reply', async () => {
    const { fake } = h;
    const alice = fake.user('alice');
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    // Paused, so the first edit shows the queue position; resumed once it has.
    await h.sidecar.service.pause();
    const ix = fake.slash(
      'animate',
      [
        { name: 'image', type: 11, value: image.id },
        { name: 'prompt', type: 3, value: 'waves crashing' },
        { name: 'frames', type: 4, value: 14 },
        { name: 'steps', type: 4, value: 50 },
        { name: 'seed', type: 4, value: 42 },
        { name: 'motion', type: 3, value: '210' },
      ],
      { user: alice, attachments: [image] },
    );
    const queued = await fake.waitForCall(
      (c) => c.method === 'PATCH' && c.path.includes(ix.token),
      30_000,
      start,
    );
    await h.sidecar.service.resume();
    expect(queued.body.content).toMatch(/Queued: position 1 · starts (now|soon|in ~\d+ s) · ETA/);
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    const calls = fake.calls.slice(start);
    const callback = calls.find((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(callback?.body.type).toBe(5);
    expect(callback!.at - ix.dispatchedAt).toBeLessThan(3000);
    const edits = calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/messages/@original'));
    expect(edits.length).toBeGreaterThanOrEqual(3);
    expect(edits.some((e) => /step \d+\/50 · ETA/.test(e.body.content))).toBe(true);
    expect(edits.slice(0, -1).every((e) => e.body.components[0].components[0].label === 'Cancel')).toBe(true);
    expect(edits.at(-1)!.body.content).toMatch(/Done/);
    expect(edits.at(-1)!.body.components).toEqual([]);
    const gaps = editGaps(calls);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1450);
    const statusId = fake.state.interactions.get(ix.id)!.originalId!;
    const thread = calls.find((c) => c.method === 'POST' && /\/threads$/.test(c.path));
    expect(thread!.path).toBe(`/channels/${fake.channelId}/messages/${statusId}/threads`);
    expect(post.path).toBe(`/channels/${statusId}/messages`);
    expect(post.body.content).toContain('“waves crashing”');
    expect(post.body.content).toContain('seed 42');
    expect(post.body.content).toContain('--motion 210');
    expect(post.body.content).toContain(`<@${alice.id}>`);
    expect(post.body.allowed_mentions).toEqual({ users: [alice.id] });
    const labels = post.body.components[0].components.map((b: { label: string }) => b.label);
    expect(labels).toEqual(['Reroll', 'More motion', 'Less motion', 'Delete']);
    // motion 210: +50 would leave 1–255, so More motion is disabled.
    expect(post.body.components[0].components[1].disabled).toBe(true);
    expect(post.body.components[0].components[2].disabled).toBe(false);
    const probe = await probeUpload(post.files[0]!.data);
    expect(probe.codec).toBe('h264');
    expect(probe.pix_fmt).toBe('yuv420p');
    expect(probe.nb_frames).toBe(14);
    const rest = calls.filter((c) => c.at <= post.at);
    const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
    console.info(
      `[discord metrics] /animate job: ${rest.length} REST calls (${rest.map((c) => `${c.method} ${route(c.path)}`).join(', ')}); ` +
        `${edits.length} edits, gaps between edits min ${Math.min(...gaps)} ms, mean ${Math.round(mean)} ms ` +
        `(${(1000 / mean).toFixed(2)} edits/s)`,
    );
    expect(rest.length).toBe(edits.length + 3);
  });

  it('posts in the thread it is used in, without a new thread (here as a GIF)', async () => {
    const { fake } = h;
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    fake.slash(
      'animate',
      [{ name: 'image', type: 11, value: image.id }, ...SMALL, { name: 'format', type: 3, value: 'gif' }],
      {
        attachments: [image],
        channelId: fake.threadId,
      },
    );
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    expect(post.path).toBe(`/channels/${fake.threadId}/messages`);
    expect(post.files[0]!.name).toMatch(/\.gif$/);
    expect((await probeUpload(post.files[0]!.data, 'out.gif')).codec).toBe('gif');
    expect(fake.calls.slice(start).some((c) => c.path.endsWith('/threads'))).toBe(false);
  });

  it('replies in place in DMs', async () => {
    const { fake } = h;
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
      attachments: [image],
      channelId: fake.dmChannelId,
    });
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    expect(post.path).toBe(`/webhooks/${fake.appId}/${ix.token}`);
    expect((await probeUpload(post.files[0]!.data)).nb_frames).toBe(2);
    expect(fake.calls.slice(start).some((c) => c.path.endsWith('/threads'))).toBe(false);
  });

  it('replies in place where no thread can be created', async () => {
    const { fake } = h;
    fake.state.threadsForbidden = true;
    try {
      const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
      const start = fake.calls.length;
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
        attachments: [image],
      });
      const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
      await h.bot.idle();
      expect(fake.calls.slice(start).find((c) => c.path.endsWith('/threads'))?.status).toBe(403);
      expect(post.path).toBe(`/webhooks/${fake.appId}/${ix.token}`);
    } finally {
      fake.state.threadsForbidden = false;
    }
  });

  it('re-encodes a video over the upload limit, with a note', async () => {
    const { fake } = h;
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    fake.slash(
      'animate',
      [
        { name: 'image', type: 11, value: image.id },
        { name: 'frames', type: 4, value: 8 },
        { name: 'steps', type: 4, value: 1 },
      ],
      { attachments: [image], attachmentSizeLimit: 9000 },
    );
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    const data = post.files[0]!.data;
    expect(data.byteLength).toBeLessThanOrEqual(9000);
    expect(post.body.content).toMatch(/re-encoded from .* to fit the .* upload limit/);
    const probe = await probeUpload(data);
    expect(probe.codec).toBe('h264');
    expect(probe.nb_frames).toBe(8);
  });

  it('takes loop and smooth as fields, re-encodes the result under the upload limit, and says what was made', async () => {
    const { fake } = h;
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    fake.slash(
      'animate',
      [
        { name: 'image', type: 11, value: image.id },
        { name: 'frames', type: 4, value: 8 },
        { name: 'steps', type: 4, value: 1 },
        { name: 'loop', type: 3, value: 'boomerang' },
        { name: 'smooth', type: 3, value: '2x' },
      ],
      { attachments: [image], attachmentSizeLimit: 12_000 },
    );
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    const data = post.files[0]!.data;
    expect(data.byteLength).toBeLessThanOrEqual(12_000);
    expect(post.body.content).toMatch(/re-encoded from .* to fit the .* upload limit/);
    // 8 frames → 14 as a boomerang → 28 at 14 fps.
    expect(post.body.content).toContain('28 frames at 14 fps (8 generated, boomerang loop, smoothed 2×)');
    expect(post.body.content).toContain('--loop boomerang --smooth 2x');
    const probe = await probeUpload(data);
    expect(probe).toMatchObject({ codec: 'h264', nb_frames: 28, fps: 14 });
  });

  it('/animate help lists every option, ephemerally', async () => {
    const { fake } = h;
    const ix = fake.slash('animate', [{ name: 'help', type: 5, value: true }]);
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(cb.body.type).toBe(4);
    expect(cb.body.data.flags & 64).toBe(64);
    for (const name of [
      'prompt',
      'motion',
      'fps',
      'frames',
      'steps',
      'seed',
      'noise',
      'guidance',
      'size',
      'format',
      'loop',
      'smooth',
    ]) {
      expect(cb.body.data.content).toContain(`--${name}`);
    }
    expect(cb.body.data.content).toContain('2–14');
  });

  it('suggests motion and guidance values', async () => {
    const { fake } = h;
    const ix = fake.autocomplete('animate', { name: 'motion', type: 3, value: 'h' });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(cb.body.type).toBe(8);
    expect(cb.body.data.choices).toEqual([{ name: 'high (200)', value: 'high' }]);
    const ix2 = fake.autocomplete('animate', { name: 'guidance', type: 3, value: '2-4' });
    const cb2 = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix2.id}/`));
    expect(cb2.body.data.choices[0]).toEqual({ name: '2-4', value: '2-4' });
  });

  describe('refusals are ephemeral and say why', () => {
    async function refusal(
      attachment: Record<string, unknown>,
      extra: { name: string; type: number; value: unknown }[] = [],
    ) {
      const { fake } = h;
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: attachment.id }, ...extra], {
        attachments: [attachment],
      });
      const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
      expect(cb.body.type).toBe(4);
      expect(cb.body.data.flags & 64).toBe(64);
      return cb.body.data.content as string;
    }

    it('a non-image attachment', async () => {
      const { fake } = h;
      const text = await refusal(
        fake.attachment(fake.upload('notes.txt', Buffer.from('hello'), 'text/plain')),
      );
      expect(text).toMatch(/not a picture.*text\/plain/);
    });

    it('a picture on a host that is not in ATTACHMENT_HOSTS', async () => {
      const { fake } = h;
      const text = await refusal(
        fake.attachment({
          name: 'cat.png',
          url: 'https://evil.example/cat.png',
          size: 651,
          contentType: 'image/png',
        }),
      );
      expect(text).toMatch(/can't fetch.*only be downloaded from 127\.0\.0\.1:\d+/);
    });

    it('a redirect from the CDN to a host that is not listed, found after the defer', async () => {
      const { fake } = h;
      const url = fake.cdn.redirect('away.png', 'http://localhost:9/cat.png');
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: '2' }], {
        attachments: [
          { ...fake.attachment({ name: 'away.png', url, size: 651, contentType: 'image/png' }), id: '2' },
        ],
      });
      const follow = await fake.waitForCall(
        (c) => c.method === 'POST' && c.path === `/webhooks/${fake.appId}/${ix.token}`,
      );
      expect(follow.body.flags & 64).toBe(64);
      expect(follow.body.content).toMatch(/can't fetch that picture/);
    });

    it('a damaged picture, refused by the job service', async () => {
      const { fake } = h;
      const broken = Buffer.concat([h.png.subarray(0, 40), Buffer.alloc(20)]);
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: '3' }], {
        attachments: [{ ...fake.attachment(fake.upload('broken.png', broken, 'image/png')), id: '3' }],
      });
      const follow = await fake.waitForCall(
        (c) => c.method === 'POST' && c.path === `/webhooks/${fake.appId}/${ix.token}`,
      );
      expect(follow.body.flags & 64).toBe(64);
      expect(follow.body.content).toMatch(/damaged or cut off/);
    });

    it('an oversized file', async () => {
      const { fake } = h;
      const text = await refusal(
        fake.attachment({ ...fake.upload('huge.png', h.png, 'image/png'), size: 30_000_000 }),
      );
      expect(text).toMatch(/too large.*30 MB.*20 MB/);
    });

    it('an option out of range, never clamped', async () => {
      const { fake } = h;
      const text = await refusal(fake.attachment(fake.upload('cat.png', h.png, 'image/png')), [
        { name: 'motion', type: 3, value: '300' },
      ]);
      expect(text).toMatch(/motion.*1–255.*got "300"/i);
    });

    it('a file that lies about being a picture, found after the defer', async () => {
      const { fake } = h;
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: '1' }], {
        attachments: [
          { ...fake.attachment(fake.upload('fake.png', Buffer.from('<svg/>'), 'image/png')), id: '1' },
        ],
      });
      const follow = await fake.waitForCall(
        (c) => c.method === 'POST' && c.path === `/webhooks/${fake.appId}/${ix.token}`,
      );
      expect(follow.body.flags & 64).toBe(64);
      expect(follow.body.content).toMatch(/not a PNG, JPEG, WebP, GIF or AVIF/);
      // The public "thinking…" reply was deleted first, so nothing public remains.
      expect(fake.callsFor(ix).map((c) => c.method)).toEqual(['POST', 'DELETE', 'POST']);
    });
  });
});

describe('gateway', () => {
  it('identifies with the Guilds, GuildMessages, MessageContent and DirectMessages intents', () => {
    expect(h.fake.gateway.intents).toBe((1 << 0) | (1 << 9) | (1 << 15) | (1 << 12));
  });
});

describe('robustness', () => {
  it('survives an interaction Discord no longer knows (10062), and serves the next one', async () => {
    const { fake } = h;
    fake.state.ackDeadlineMs = -1;
    try {
      const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
        attachments: [image],
      });
      const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
      expect(cb.status).toBe(404);
      await h.bot.idle();
    } finally {
      fake.state.ackDeadlineMs = 10_000;
    }
    const ok = fake.slash('animate', [{ name: 'help', type: 5, value: true }]);
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ok.id}/`));
    expect(cb.status).toBe(204);
  });
});
