/**
 * A result too big for the upload limit, even re-encoded (the fake Discord's interaction gives a
 * low attachment_size_limit): with PUBLIC_URL, a signed link; without, a clear refusal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResultLinks } from '../../src/service/result-links.ts';
import type { RestCall } from '../fakes/discord/rest.ts';
import { type Harness, startHarness } from './harness.ts';

const links = new ResultLinks({
  publicUrl: 'https://bot.example',
  secret: 'a-test-secret-that-is-long-enough-0123456789',
  ttlMs: 24 * 3_600_000,
});

/** Below the re-encode's floor: no MP4 can get this small. */
const TINY_LIMIT = 4300;

async function animateWithLimit(h: Harness): Promise<RestCall> {
  const { fake } = h;
  const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
  const start = fake.calls.length;
  fake.slash(
    'animate',
    [
      { name: 'image', type: 11, value: image.id },
      { name: 'frames', type: 4, value: 4 },
      { name: 'steps', type: 4, value: 1 },
    ],
    { attachments: [image], attachmentSizeLimit: TINY_LIMIT },
  );
  const post = await fake.waitForCall(
    (c) => c.method === 'POST' && /upload limit/.test(String(c.body?.content ?? '')),
    120_000,
    start,
  );
  await h.bot.idle();
  return post;
}

describe('with PUBLIC_URL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ resultLinks: links });
  });
  afterAll(async () => h?.stop());

  it('posts a signed link that expires instead of a file', async () => {
    const post = await animateWithLimit(h);
    expect(post.files).toHaveLength(0);
    const content = String(post.body.content);
    expect(content).toMatch(/does not fit the .* upload limit here even re-encoded/);
    expect(content).toMatch(/expires in 24 h/);
    const url = new URL(/https:\/\/bot\.example\/links\/\S+/.exec(content)![0]);
    const id = url.pathname.split('/')[2]!;
    expect(links.check(id, url.searchParams.get('exp'), url.searchParams.get('sig'))).toBe('ok');
    expect((await h.sidecar.service.get(id))?.delivered).toBe(true);
  });
});

describe('without PUBLIC_URL', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.stop());

  it('says the video is too large for the limit, and posts no link', async () => {
    const post = await animateWithLimit(h);
    expect(post.files).toHaveLength(0);
    expect(String(post.body.content)).toMatch(/does not fit the .* upload limit/);
    expect(String(post.body.content)).not.toContain('/links/');
  });
});
