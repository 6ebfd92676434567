/**
 * What users send that must not do more than it says: a prompt with markdown, masked links and
 * mentions is echoed as text, and a picture over the job service's upload limit is refused before
 * it is downloaded (the limits agree in decimal MB). The bot is configured as `npm start` does.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeUser } from '../fakes/discord/fake-discord.ts';
import { type Harness, isFilePost, SMALL, startHarness } from './harness.ts';

let h: Harness;
let alice: FakeUser;

beforeAll(async () => {
  h = await startHarness({ env: () => ({}) });
  alice = h.fake.user('alice');
});

afterEach(async () => {
  await h?.sidecar.service.clear();
  await h?.sidecar.service.resume();
  await h?.bot.idle();
});

afterAll(async () => {
  await h?.stop();
});

const PROMPT = '[[reset your password](https://evil.example) @everyone <@123456789> **now**';
const SHOWN =
  '“\\[\\[reset your password\\](https://evil.example) \\@everyone \\<\\@123456789> \\*\\*now\\*\\*”';

describe('an echoed prompt', () => {
  it('shows masked links, markdown and mentions as text, and pings only the owner', async () => {
    const { fake } = h;
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    const ix = fake.slash(
      'animate',
      [{ name: 'image', type: 11, value: image.id }, { name: 'prompt', type: 3, value: PROMPT }, ...SMALL],
      { user: alice, attachments: [image] },
    );
    const post = await fake.waitForCall(isFilePost, 120_000, start);
    await h.bot.idle();
    const seed = /seed (\d+)/.exec(post.body.content)![1];
    expect(post.body.content.split('\n').slice(0, 2)).toEqual([
      `<@${alice.id}> ${SHOWN}`,
      `seed ${seed} · 2 frames at 7 fps · \`--motion 127 --fps 7 --frames 2 --steps 1 --seed ${seed} --noise 0.02 --guidance 1-3 --size auto --format mp4 --loop off --smooth off\``,
    ]);
    expect(post.body.allowed_mentions).toEqual({ users: [alice.id] });
    // Every edit of the status message mentions nobody.
    const edits = fake.callsFor(ix).filter((c) => c.method === 'PATCH');
    expect(edits.length).toBeGreaterThan(0);
    for (const e of edits) expect(e.body.allowed_mentions).toEqual({ parse: [] });
    // /jobs echoes it the same way.
    const jobs = fake.slash('jobs', [], { user: alice });
    const listed = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${jobs.id}/`));
    expect(listed.body.data.content).toContain('“\\[\\[reset your password\\](https://evil.exam”');
    expect(listed.body.data.content).not.toMatch(/(^|[^\\])\[/);
  });
});

describe("the download cap is the job service's upload limit (20 MB = 20 000 000 bytes)", () => {
  /** A real PNG padded to `size` bytes. */
  const padded = (size: number) => Buffer.concat([h.png, Buffer.alloc(size - h.png.length)]);

  it('refuses 20.5 MB before downloading it', async () => {
    const { fake } = h;
    const image = fake.attachment(fake.upload('big.png', padded(20_500_000), 'image/png'));
    const requests = fake.cdn.requests.length;
    const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
      user: alice,
      attachments: [image],
    });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(cb.body.type).toBe(4);
    expect(cb.body.data.flags & 64).toBe(64);
    expect(cb.body.data.content).toBe(
      '❌ That picture is too large: "big.png" is 20.5 MB, over the 20 MB limit. Send a smaller one.',
    );
    expect(fake.cdn.requests.length).toBe(requests);
  });

  it('downloads and submits a picture of exactly 20 000 000 bytes', async () => {
    const { fake } = h;
    await h.sidecar.service.pause();
    const image = fake.attachment(fake.upload('edge.png', padded(20_000_000), 'image/png'));
    const requests = fake.cdn.requests.length;
    const start = fake.calls.length;
    const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
      user: alice,
      attachments: [image],
    });
    const edit = await fake.waitForCall(
      (c) => c.method === 'PATCH' && c.path.includes(ix.token),
      60_000,
      start,
    );
    expect(edit.body.content).toMatch(/Queued/);
    expect(fake.cdn.requests.length).toBe(requests + 1);
    const id = edit.body.components[0].components[0].custom_id.split(':')[2];
    expect((await h.sidecar.service.get(id))?.state).toBe('queued');
  });
});
