/**
 * /animate end to end: real Bolt over Socket Mode against the fake Slack, the real job service and
 * the tiny model. Slash command → modal → submit → status message → progress edits → MP4 uploaded
 * into the status message's thread; then the buttons.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buttonIds } from '../fakes/slack/driver.ts';
import { ALICE, BOB, CHANNEL, ephemeralsFor, PICTURE, probe, type Rig, startRig } from './harness.ts';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
});

afterAll(async () => {
  await rig?.close();
});

/** Opens the modal with `/animate text` and submits it with the picture `fileId` and `values`. */
async function animate(text: string, fileId: string, values: Record<string, string> = {}) {
  const { fake, slack } = rig;
  const opened = fake.callsOf('views.open').length;
  const ack = await slack.slashCommand('/animate', text, ALICE, CHANNEL);
  const call = await fake.waitFor('views.open', () => fake.callsOf('views.open')[opened]);
  const viewId = [...fake.views.keys()].at(-1)!;
  const state: Record<string, Record<string, unknown>> = {
    image: { file: { type: 'file_input', files: [{ id: fileId }] } },
  };
  for (const [k, v] of Object.entries(values)) state[k] = { value: { type: 'number_input', value: v } };
  const submitAck = await slack.submitView(viewId, ALICE, state);
  return { ack, call, submitAck, view: fake.views.get(viewId)! };
}

describe('/animate', () => {
  it('opens a prefilled modal, then posts status, edits it, and uploads the MP4 into its thread', async () => {
    const { fake } = rig;
    const file = fake.addFile({ name: 'cat.png', mimetype: 'image/png', data: PICTURE });
    const started = Date.now();
    const { ack, call, submitAck, view } = await animate(
      'a cat waves --frames 3 --steps 8 --seed 42 --noise 0.05',
      file.id,
    );

    // The command is acked at once and the modal opened with the typed options.
    expect(ack.payload).toEqual({});
    expect(ack.ms).toBeLessThan(3000);
    const blocks = JSON.stringify((call.args.view as { blocks: unknown[] }).blocks);
    expect(blocks).toContain('"initial_value":"a cat waves"');
    expect(blocks).toContain('"initial_value":"3"');
    expect(blocks).toContain('"initial_value":"42"');
    expect(blocks).toContain('"type":"file_input"');
    expect(blocks).toContain('"max_files":1');
    expect(JSON.parse(String(view.private_metadata))).toMatchObject({
      channel: CHANNEL,
      extra: { steps: '8', noise: '0.05' },
    });
    expect(submitAck.payload).toEqual({});

    // Status message in the channel (top level), edited, then the video in its thread.
    const status = await fake.waitFor('status message', () =>
      fake.ws.messages.find((m) => m.channel === CHANNEL && m.user === fake.botUserId && !m.thread_ts),
    );
    const upload = await fake.waitFor(
      'upload',
      () => fake.ws.files.size > 1 && [...fake.ws.files.values()].find((f) => f.thread_ts),
    );
    expect(upload.channel).toBe(CHANNEL);
    expect(upload.thread_ts).toBe(status.ts);
    expect(upload.initial_comment).toContain('a cat waves');
    expect(upload.initial_comment).toContain('seed 42');
    expect(upload.initial_comment).toContain('--steps 8');
    const video = probe(upload.data);
    expect(video).toEqual({ codec: 'h264', pix_fmt: 'yuv420p', frames: 3 });

    // files.uploadV2: URL, then the bytes to the other host, then complete with channel + thread.
    const complete = fake.callsOf('files.completeUploadExternal').at(-1)!;
    expect(complete.args).toMatchObject({ channel_id: CHANNEL, thread_ts: status.ts });
    expect(fake.uploads.at(-1)!.bytes.equals(upload.data)).toBe(true);

    // Finally: the caption and the buttons.
    await fake.waitFor('result buttons', () => buttonIds(status).includes('stillmotion_reroll'));
    // The status was edited at least once while the job moved, never faster than every 1.5 s.
    const edits = fake.callsOf('chat.update').filter((c) => c.args.ts === status.ts && c.at >= started);
    // How many progress edits a job gets depends on how long it runs on this machine: at least one, and
    // every edit of the status message (the final one too) at least 1.5 s after the one before.
    const progressEdits = edits.filter((c) => JSON.stringify(c.args.blocks).includes('stillmotion_cancel'));
    expect(progressEdits.length).toBeGreaterThanOrEqual(1);
    expect(edits.length).toBeGreaterThan(progressEdits.length);
    for (let i = 1; i < edits.length; i++) {
      expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThanOrEqual(1400);
    }
    expect(buttonIds(status)).toEqual([
      'stillmotion_reroll',
      'stillmotion_more_motion',
      'stillmotion_less_motion',
      'stillmotion_delete',
    ]);
    // Slack API calls for this one job: the modal, files.info, one post, the edits, two for the upload.
    const perJob: Record<string, number> = {};
    for (const c of fake.calls.filter((c) => c.at >= started)) perJob[c.method] = (perJob[c.method] ?? 0) + 1;
    const { 'chat.update': updates, ...rest } = perJob;
    expect(rest).toEqual({
      'views.open': 1,
      'files.info': 1,
      'chat.postMessage': 1,
      'files.getUploadURLExternal': 1,
      'files.completeUploadExternal': 1,
    });
    expect(updates).toBe(
      fake.callsOf('chat.update').filter((c) => c.args.ts === status.ts && c.at >= started).length,
    );
    if (process.env.SLACK_CALLS_REPORT) {
      const gaps = progressEdits.slice(1).map((c, i) => c.at - progressEdits[i]!.at);
      process.stderr.write(
        `slack calls per job: ${JSON.stringify(perJob)}; progress edit gaps (ms): ${gaps}\n`,
      );
    }
    const job = (await rig.sidecar.service.list('slack:T0FAKE:U0ALICE'))[0]!; // newest first
    expect(job.delivered).toBe(true);
    expect(job.seed).toBe(42);
  });

  it('shows the experimental steer as a 0–1 decimal field prefilled with what was typed', async () => {
    const { fake, slack } = rig;
    const opened = fake.callsOf('views.open').length;
    await slack.slashCommand('/animate', 'a cat --steer 0.4', ALICE, CHANNEL);
    const call = await fake.waitFor('views.open', () => fake.callsOf('views.open')[opened]);
    type Field = { element: Record<string, unknown>; label: { text: string }; hint: { text: string } };
    const blocks = (call.args.view as { blocks: Array<{ block_id?: string } & Field> }).blocks;
    const steer = blocks.find((b) => b.block_id === 'steer')!;
    expect(steer.element).toMatchObject({
      type: 'number_input',
      is_decimal_allowed: true,
      min_value: '0',
      max_value: '1',
      initial_value: '0.4',
    });
    expect(steer.label.text).toContain('experimental');
    expect(steer.hint.text).toMatch(/EXPERIMENTAL.*not trained with text; results vary/);
  });

  it('shows loop and smooth as selects set to what was typed, and runs what was chosen', async () => {
    const { fake, slack } = rig;
    const file = fake.addFile({ name: 'loop.png', mimetype: 'image/png', data: PICTURE });
    const opened = fake.callsOf('views.open').length;
    const uploads = fake.ws.files.size;
    await slack.slashCommand('/animate', 'a loop --loop boomerang --frames 3 --steps 1', ALICE, CHANNEL);
    const call = await fake.waitFor('views.open', () => fake.callsOf('views.open')[opened]);
    type Select = { options: { value: string }[]; initial_option: { value: string } };
    const blocks = (call.args.view as { blocks: Array<{ block_id?: string; element: Select }> }).blocks;
    const loop = blocks.find((b) => b.block_id === 'loop')!;
    const smooth = blocks.find((b) => b.block_id === 'smooth')!;
    expect(loop.element.options.map((o) => o.value)).toEqual(['off', 'boomerang', 'fade']);
    expect(loop.element.initial_option.value).toBe('boomerang');
    expect(smooth.element.options.map((o) => o.value)).toEqual(['off', '2x', '3x', '4x']);
    expect(smooth.element.initial_option.value).toBe('off');
    expect(
      JSON.parse(String(fake.views.get([...fake.views.keys()].at(-1)!)!.private_metadata)).extra,
    ).toEqual({
      steps: '1',
    });
    const viewId = [...fake.views.keys()].at(-1)!;
    await slack.submitView(viewId, ALICE, {
      image: { file: { type: 'file_input', files: [{ id: file.id }] } },
      smooth: { value: { type: 'static_select', selected_option: { value: '2x' } } },
    });
    const upload = await fake.waitFor(
      'upload',
      () =>
        fake.ws.files.size > uploads &&
        [...fake.ws.files.values()].find((f) => f.thread_ts && f.initial_comment?.includes('a loop')),
    );
    // 3 frames → 4 as a boomerang → 8 at 14 fps; the caption says so.
    expect(probe(upload.data).frames).toBe(8);
    expect(upload.initial_comment).toContain('8 frames at 14 fps (3 generated, boomerang loop, smoothed 2×)');
  });

  it('refuses an out-of-range option with the option and its range, without a modal', async () => {
    const opened = rig.fake.callsOf('views.open').length;
    const ack = await rig.slack.slashCommand('/animate', 'sea --frames 99', ALICE, CHANNEL);
    expect(String(ack.payload.text)).toMatch(/frames.*2–14/i);
    expect(ack.payload.response_type).toBe('ephemeral');
    expect(rig.fake.callsOf('views.open').length).toBe(opened);
  });

  it('answers /animate help with every option', async () => {
    const ack = await rig.slack.slashCommand('/animate', 'help', ALICE, CHANNEL);
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
      expect(String(ack.payload.text)).toContain(`--${name}`);
    }
  });

  it('puts a modal field error next to the field', async () => {
    const file = rig.fake.addFile({ name: 'x.png', mimetype: 'image/png', data: PICTURE });
    const { submitAck } = await animate('', file.id, { fps: '31' });
    expect(submitAck.payload).toMatchObject({ response_action: 'errors' });
    expect(String((submitAck.payload.errors as Record<string, string>).fps)).toMatch(/1–30/);
  });

  it('answers a file that is not a picture with a specific ephemeral error', async () => {
    const { fake } = rig;
    // Named and typed as a PNG, but the bytes are text: the magic-byte check catches it.
    const file = fake.addFile({
      name: 'notes.png',
      mimetype: 'image/png',
      data: Buffer.from('just some text, not a picture'),
    });
    const before = ephemeralsFor(fake, ALICE.id).length;
    await animate('--frames 2 --steps 1', file.id);
    const text = await fake.waitFor('ephemeral error', () => ephemeralsFor(fake, ALICE.id)[before]);
    expect(text).toMatch(/not a picture|not a PNG/i);
    expect(fake.downloads.at(-1)).toMatchObject({ authorized: true, status: 200 });
  });

  it('in a channel the bot is not in: tells the user in a DM to invite it', async () => {
    const { fake } = rig;
    fake.ws.outside.add('C0OUTSIDE');
    const file = fake.addFile({ name: 'y.png', mimetype: 'image/png', data: PICTURE });
    const opened = fake.callsOf('views.open').length;
    await rig.slack.slashCommand('/animate', '--frames 2 --steps 1', ALICE, 'C0OUTSIDE');
    await fake.waitFor('views.open', () => fake.callsOf('views.open')[opened]);
    await rig.slack.submitView([...fake.views.keys()].at(-1)!, ALICE, {
      image: { file: { type: 'file_input', files: [{ id: file.id }] } },
    });
    const dm = await fake.waitFor('DM', () => fake.ws.messages.find((m) => m.channel === ALICE.id));
    expect(dm.text).toContain('/invite @stillmotion');
    expect(fake.callsOf('chat.postEphemeral').at(-1)!.args.channel).toBe('C0OUTSIDE');
  });

  it('refuses the buttons to someone who is not the owner', async () => {
    const { fake, slack } = rig;
    const status = fake.ws.messages.find((m) => buttonIds(m).includes('stillmotion_reroll'))!;
    const before = ephemeralsFor(fake, BOB.id).length;
    await slack.clickButton(status, 'stillmotion_reroll', BOB);
    const text = await fake.waitFor('refusal', () => ephemeralsFor(fake, BOB.id)[before]);
    expect(text).toContain('Only <@U0ALICE> or an admin');
  });
});
