import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editGaps, type Harness, isFilePost, probeUpload, SMALL, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

describe('/animate', () => {
  it('defers, edits its progress, and posts a valid MP4 in a thread on its reply', async () => {
    const { fake } = h;
    const alice = fake.user('alice');
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    const ix = fake.slash(
      'animate',
      [
        { name: 'image', type: 11, value: image.id },
        { name: 'prompt', type: 3, value: 'waves crashing' },
        ...SMALL,
        { name: 'seed', type: 4, value: 42 },
      ],
      { user: alice, attachments: [image] },
    );
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    const calls = fake.calls.slice(start);
    const callback = calls.find((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(callback?.body.type).toBe(5);
    expect(callback!.at - ix.dispatchedAt).toBeLessThan(3000);
    console.info(
      calls
        .map((c) => `${c.method} ${c.path} ${c.status} ${JSON.stringify(c.body)?.slice(0, 200)}`)
        .join('\n'),
    );
    const edits = calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/messages/@original'));
    expect(edits.length).toBeGreaterThanOrEqual(2);
    expect(edits.some((e) => /Queued|Animating|Decoding|Encoding/.test(e.body.content))).toBe(true);
    expect(edits.at(-1)!.body.content).toMatch(/Done/);
    for (const gap of editGaps(calls)) expect(gap).toBeGreaterThanOrEqual(1450);
    const thread = calls.find((c) => c.method === 'POST' && /\/threads$/.test(c.path));
    expect(thread).toBeDefined();
    const statusId = fake.state.interactions.get(ix.id)!.originalId!;
    expect(thread!.path).toBe(`/channels/${fake.channelId}/messages/${statusId}/threads`);
    expect(post.path).toBe(`/channels/${statusId}/messages`);
    expect(post.body.content).toContain('waves crashing');
    expect(post.body.content).toContain('seed 42');
    expect(post.body.content).toContain(`<@${alice.id}>`);
    const labels = post.body.components[0].components.map((b: { label: string }) => b.label);
    expect(labels).toEqual(['Reroll', 'More motion', 'Less motion', 'Delete']);
    const probe = await probeUpload(post.files[0]!.data);
    expect(probe.codec).toBe('h264');
    expect(probe.nb_frames).toBe(2);
    const rest = calls.filter((c) => c.at <= post.at || c === post);
    console.info(
      `REST calls for one /animate job: ${rest.length} (${rest.map((c) => `${c.method} ${c.path.replace(/\d{5,}|itok-[^/]+/g, ':id')}`).join(', ')})`,
    );
  });
});
