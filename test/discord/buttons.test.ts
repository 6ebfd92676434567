import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeMessage, FakeUser } from '../fakes/discord/fake-discord.ts';
import { type Harness, isFilePost, probeUpload, SMALL, startHarness } from './harness.ts';

let h: Harness;
let alice: FakeUser;
let result: FakeMessage;

beforeAll(async () => {
  h = await startHarness();
  alice = h.fake.user('alice');
});

// A test that paused the queue and then failed must not leave the next ones waiting forever.
afterEach(async () => {
  await h?.sidecar.service.resume();
});

afterAll(async () => {
  await h?.stop();
});

function seedOf(content: string): number {
  return Number(/seed (\d+)/.exec(content)![1]);
}

/** Runs /animate for `user` and returns the posted result message. */
async function animate(
  user: FakeUser,
  extra: { name: string; type: number; value: unknown }[] = [],
): Promise<FakeMessage> {
  const { fake } = h;
  const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
  const start = fake.calls.length;
  fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL, ...extra], {
    user,
    attachments: [image],
  });
  await fake.waitForCall((c) => isFilePost(c), 120_000, start);
  await h.bot.idle();
  const post = fake.calls.slice(start).find(isFilePost)!;
  return [...fake.state.messages.values()].find(
    (m) => m.channel_id === post.path.split('/')[2] && m.files?.length,
  )!;
}

/** Clicks and returns the posted result of the new job. */
async function click(action: string, message: FakeMessage, user: FakeUser): Promise<FakeMessage> {
  const { fake } = h;
  const jobId = (
    message.components[0] as { components: { custom_id: string }[] }
  ).components[0]!.custom_id.split(':')[2];
  const start = fake.calls.length;
  const ix = fake.button(`sm:${action}:${jobId}`, message, { user });
  await fake.waitForCall((c) => isFilePost(c), 120_000, start);
  await h.bot.idle();
  const cb = fake.callsFor(ix)[0]!;
  expect(cb.body.type).toBe(5);
  const post = fake.calls.slice(start).find(isFilePost)!;
  // Already in a thread: the new result goes in the same thread.
  expect(post.path).toBe(`/channels/${message.channel_id}/messages`);
  return [...fake.state.messages.values()]
    .reverse()
    .find((m) => m.channel_id === message.channel_id && m.files?.length)!;
}

describe('result buttons', () => {
  it('Reroll makes a new video with a different seed and the same options', async () => {
    result = await animate(alice, [
      { name: 'seed', type: 4, value: 7 },
      { name: 'motion', type: 3, value: '100' },
      { name: 'loop', type: 3, value: 'boomerang' },
    ]);
    expect(seedOf(result.content)).toBe(7);
    const again = await click('reroll', result, alice);
    expect(seedOf(again.content)).not.toBe(7);
    expect(again.content).toContain('--motion 100');
    expect(again.content).toContain('--loop boomerang');
    expect((await probeUpload(again.files![0]!.data)).nb_frames).toBe(2);
  });

  it('More motion adds 50 with the same seed; Less motion takes 50 off', async () => {
    const more = await click('more', result, alice);
    expect(more.content).toContain('--motion 150');
    expect(more.content).toContain('--loop boomerang');
    expect(seedOf(more.content)).toBe(7);
    const less = await click('less', result, alice);
    expect(less.content).toContain('--motion 50');
    expect(seedOf(less.content)).toBe(7);
  });

  it('refuses anyone but the owner, ephemerally', async () => {
    const { fake } = h;
    const bob = fake.user('bob');
    const jobId = (
      result.components[0] as { components: { custom_id: string }[] }
    ).components[0]!.custom_id.split(':')[2];
    for (const action of ['reroll', 'delete']) {
      const ix = fake.button(`sm:${action}:${jobId}`, result, { user: bob });
      const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
      expect(cb.body.type).toBe(4);
      expect(cb.body.data.flags & 64).toBe(64);
      expect(cb.body.data.content).toContain(`Only <@${alice.id}> or an admin`);
    }
    expect(fake.message(result.id)).toBeDefined();
  });

  it('Delete (by an admin) removes the message and the stored result', async () => {
    const { fake } = h;
    const jobId = (
      result.components[0] as { components: { custom_id: string }[] }
    ).components[0]!.custom_id.split(':')[2]!;
    const ix = fake.button(`sm:delete:${jobId}`, result, { user: fake.user('mod'), admin: true });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(cb.body.data.flags & 64).toBe(64);
    expect(
      fake.calls.some(
        (c) => c.method === 'DELETE' && c.path === `/channels/${result.channel_id}/messages/${result.id}`,
      ),
    ).toBe(true);
    expect(fake.message(result.id)).toBeUndefined();
    await expect(h.sidecar.service.result(jobId)).rejects.toMatchObject({ status: 410 });
  });

  it('Cancel while queued: the job is canceled and its status says so', async () => {
    const { fake } = h;
    await h.sidecar.service.pause();
    try {
      const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
      const start = fake.calls.length;
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
        user: alice,
        attachments: [image],
      });
      const queued = await fake.waitForCall(
        (c) => c.method === 'PATCH' && c.path.includes(ix.token),
        30_000,
        start,
      );
      expect(queued.body.content).toMatch(/Queued: position 1/);
      const cancelId = queued.body.components[0].components[0].custom_id as string;
      expect(cancelId).toMatch(/^sm:cancel:/);
      const status = fake.message(fake.state.interactions.get(ix.id)!.originalId!)!;
      // Someone else may not cancel it.
      const other = fake.button(cancelId, status, { user: fake.user('bob') });
      const refused = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${other.id}/`));
      expect(refused.body.data.content).toMatch(/Only <@\d+> or an admin/);
      const click = fake.button(cancelId, status, { user: alice });
      const ack = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${click.id}/`));
      expect(ack.body.data.flags & 64).toBe(64);
      const done = await fake.waitForCall((c) => c.path.includes(click.token) && c.method === 'PATCH');
      expect(done.body.content).toMatch(/Canceled job/);
      const final = await fake.waitForCall(
        (c) => c.method === 'PATCH' && c.path.includes(ix.token) && /Canceled/.test(c.body.content),
        30_000,
        start,
      );
      expect(final.body.components).toEqual([]);
      const jobId = cancelId.split(':')[2]!;
      expect((await h.sidecar.service.get(jobId))?.state).toBe('canceled');
      await h.bot.idle();
      expect(fake.calls.slice(start).some(isFilePost)).toBe(false);
    } finally {
      await h.sidecar.service.resume();
    }
  });
});
