/**
 * PREVIEW_IN_CHAT=1 on Discord: the status message carries the latest live preview, replaced at most
 * every 5 s, and loses it when the job ends; off by default. Counts the API calls per job both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RestCall } from '../fakes/discord/rest.ts';
import { type Harness, isFilePost, startHarness } from './harness.ts';

/** One /animate job long enough on the tiny model for a few previews; its REST calls. */
async function job(h: Harness): Promise<RestCall[]> {
  const { fake } = h;
  const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
  const start = fake.calls.length;
  fake.slash(
    'animate',
    [
      { name: 'image', type: 11, value: image.id },
      { name: 'frames', type: 4, value: 8 },
      { name: 'steps', type: 4, value: 40 },
    ],
    { attachments: [image] },
  );
  await fake.waitForCall((c) => isFilePost(c), 180_000, start);
  await h.bot.idle();
  return fake.calls.slice(start);
}

const edits = (calls: RestCall[]) =>
  calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/messages/@original'));

describe('PREVIEW_IN_CHAT on Discord', () => {
  let on: Harness;
  let off: Harness;
  beforeAll(async () => {
    on = await startHarness({ config: { previewInChat: true } });
    off = await startHarness();
  }, 120_000);
  afterAll(async () => {
    await on?.stop();
    await off?.stop();
  });

  it('on: the status edits carry the preview, at most one new image per 5 s, removed at the end', async () => {
    const calls = await job(on);
    const withImage = edits(calls).filter((c) => c.files.some((f) => f.name === 'preview.webp'));
    expect(withImage.length).toBeGreaterThanOrEqual(1);
    for (let i = 1; i < withImage.length; i++)
      expect(withImage[i]!.at - withImage[i - 1]!.at).toBeGreaterThanOrEqual(5000);
    const last = edits(calls).at(-1)!;
    expect(last.files).toHaveLength(0);
    expect(last.body.attachments).toEqual([]);
    process.stderr.write(
      `preview-in-chat discord ON: ${calls.length} API calls per job, ${edits(calls).length} status edits, ${withImage.length} with an image\n`,
    );
  });

  it('off (the default): no image in any edit', async () => {
    const calls = await job(off);
    expect(edits(calls).some((c) => c.files.length > 0)).toBe(false);
    expect(edits(calls).every((c) => c.body.attachments === undefined)).toBe(true);
    process.stderr.write(
      `preview-in-chat discord OFF: ${calls.length} API calls per job, ${edits(calls).length} status edits\n`,
    );
  });
});
