/**
 * User text in mrkdwn: a prompt or a file name with `<!channel>` or a masked link `<url|text>` is sent
 * escaped (`&lt;`, `&gt;`, `&amp;`), so Slack shows it as typed and nobody is pinged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buttonIds } from '../fakes/slack/driver.ts';
import { ALICE, CHANNEL, ephemeralsFor, PICTURE, type Rig, startRig } from './harness.ts';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
});

afterAll(async () => {
  await rig?.close();
});

const PROMPT = '<!channel> <https://evil.example|reset your password> & more';
/** Every `text` and `initial_comment` string in a call's arguments, blocks included. */
function textsOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(textsOf);
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    typeof v === 'string' ? (k === 'text' || k === 'initial_comment' ? [v] : []) : textsOf(v),
  );
}

const SHOWN = '“&lt;!channel&gt; &lt;https://evil.example|reset your password&gt; &amp; more”';

describe('escaping', () => {
  it('escapes a modal prompt in the result message and the upload comment', async () => {
    const { fake, slack } = rig;
    const file = fake.addFile({ name: 'cat.png', mimetype: 'image/png', data: PICTURE });
    const opened = fake.callsOf('views.open').length;
    await slack.slashCommand('/animate', '--steps 1 --frames 2', ALICE, CHANNEL);
    await fake.waitFor('views.open', () => fake.callsOf('views.open')[opened]);
    const viewId = [...fake.views.keys()].at(-1)!;
    await slack.submitView(viewId, ALICE, {
      image: { file: { type: 'file_input', files: [{ id: file.id }] } },
      prompt: { value: { type: 'plain_text_input', value: PROMPT } },
    });
    const upload = await fake.waitFor('upload', () => [...fake.ws.files.values()].find((f) => f.thread_ts));
    const seed = /seed (\d+)/.exec(upload.initial_comment ?? '')![1];
    expect(upload.initial_comment?.split('\n')[0]).toBe(`<@${ALICE.id}> ${SHOWN}`);
    const status = fake.ws.messages.find((m) => m.ts === upload.thread_ts)!;
    await fake.waitFor('result buttons', () => buttonIds(status).includes('stillmotion_reroll'));
    const text = (status.blocks as Array<{ text?: { text: string } }>)[1]!.text!.text;
    expect(text.split('\n').slice(0, 2)).toEqual(['✅ Done: the video is in the thread.', SHOWN]);
    expect(text).toContain(`seed ${seed}`);
    // No mrkdwn the bot sent (texts, blocks, the upload comment) carries the raw control sequences.
    // The file's title is plain text, shown as typed.
    const mrkdwnSent = fake.calls.flatMap((c) => textsOf(c.args));
    expect(mrkdwnSent.some((t) => t.includes(SHOWN))).toBe(true);
    for (const t of mrkdwnSent) expect(t).not.toMatch(/<!channel>|<https:\/\/evil/);
  });

  it('escapes a file name quoted in an error', async () => {
    const { fake, slack } = rig;
    const file = fake.addFile({
      name: '<!channel> <https://evil.example|x>.txt',
      mimetype: 'text/plain',
      data: Buffer.from('hi'),
    });
    const before = ephemeralsFor(fake, ALICE.id).length;
    await slack.mention({ user: ALICE, channel: CHANNEL, text: `<@${fake.botUserId}> go`, files: [file] });
    const text = await fake.waitFor('ephemeral', () => ephemeralsFor(fake, ALICE.id)[before]);
    expect(text).toBe(
      '❌ That file is not a picture I can use (“&lt;!channel&gt; &lt;https://evil.example|x&gt;.txt” is text/plain). Send a PNG, JPEG, WebP, GIF or AVIF picture.',
    );
  });
});
