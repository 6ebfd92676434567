/**
 * The other ways in and the buttons, end to end with the real Bolt, the real job service and the
 * tiny model: the message shortcut, a mention in a thread whose parent has the picture, a mention
 * with a non-picture file, Cancel (queued and running), Reroll / More motion / Delete, and the
 * admin command.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMIT_EDGES } from '../chat/limit-edges.ts';
import { buttonIds } from '../fakes/slack/driver.ts';
import type { FakeMessage } from '../fakes/slack/workspace.ts';
import { ADMIN, ALICE, BOB, CHANNEL, ephemeralsFor, PICTURE, probe, type Rig, startRig } from './harness.ts';

let rig: Rig;

beforeAll(async () => {
  rig = await startRig();
});

// A test that paused the queue and then failed must not leave the next ones waiting forever.
afterEach(async () => {
  await rig?.sidecar.service.resume();
});

afterAll(async () => {
  await rig?.close();
});

const ALICE_ID = 'slack:T0FAKE:U0ALICE';

/** The bot's status messages in a thread, oldest first. */
function statusIn(thread: string): FakeMessage[] {
  const { fake } = rig;
  return fake.ws.messages.filter((m) => m.user === fake.botUserId && m.thread_ts === thread && !m.files);
}

function videosIn(thread: string) {
  return [...rig.fake.ws.files.values()].filter((f) => f.thread_ts === thread && f.mimetype === 'video/mp4');
}

describe('message shortcut “Animate this image”', () => {
  it('opens the modal with the picture shown and its file id kept; the video goes into that thread', async () => {
    const { fake, slack } = rig;
    const file = fake.addFile({ name: 'dog.png', mimetype: 'image/png', data: PICTURE });
    const source = fake.ws.post({ channel: CHANNEL, user: BOB.id, text: 'my dog', files: [file] });
    const ack = await slack.messageShortcut('stillmotion_animate_image', source, ALICE);
    expect(ack.payload).toEqual({});
    const open = await fake.waitFor('views.open', () =>
      fake.callsOf('views.open').find((c) => JSON.stringify(c.args.view).includes(file.id)),
    );
    const view = open.args.view as { blocks: Array<Record<string, unknown>>; private_metadata: string };
    const context = view.blocks.find((b) => b.type === 'context')!;
    expect(JSON.stringify(context)).toContain(`"slack_file":{"id":"${file.id}"}`);
    expect(view.blocks.some((b) => JSON.stringify(b).includes('file_input'))).toBe(false);
    expect(JSON.parse(view.private_metadata)).toMatchObject({
      channel: CHANNEL,
      thread_ts: source.ts,
      file_id: file.id,
    });

    const viewId = [...fake.views.keys()].at(-1)!;
    await slack.submitView(viewId, ALICE, {
      prompt: { value: { type: 'plain_text_input', value: 'a happy dog' } },
      frames: { value: { type: 'number_input', value: '2' } },
      seed: { value: { type: 'number_input', value: '7' } },
    });
    const [video] = await fake.waitFor(
      'video in the source thread',
      () => videosIn(source.ts).length > 0 && videosIn(source.ts),
    );
    expect(probe(video!.data).frames).toBe(2);
    expect(video!.initial_comment).toContain('a happy dog');
    expect(statusIn(source.ts)).toHaveLength(1);
    expect(fake.callsOf('files.info').some((c) => c.args.file === file.id)).toBe(true);
  });

  it('on a message without a picture, says so ephemerally and opens nothing', async () => {
    const { fake, slack } = rig;
    const opened = fake.callsOf('views.open').length;
    const source = fake.ws.post({ channel: CHANNEL, user: BOB.id, text: 'no picture here' });
    const before = ephemeralsFor(fake, ALICE.id).length;
    await slack.messageShortcut('stillmotion_animate_image', source, ALICE);
    const text = await fake.waitFor('ephemeral', () => ephemeralsFor(fake, ALICE.id)[before]);
    expect(text).toContain('That message has no picture');
    expect(fake.callsOf('views.open').length).toBe(opened);
  });
});

describe('app_mention', () => {
  it('in a thread whose parent has the picture: reads it through conversations.replies on thread_ts', async () => {
    const { fake, slack } = rig;
    const file = fake.addFile({ name: 'sea.png', mimetype: 'image/png', data: PICTURE });
    const second = fake.addFile({ name: 'sky.png', mimetype: 'image/png', data: PICTURE });
    const parent = fake.ws.post({ channel: CHANNEL, user: BOB.id, text: 'the sea', files: [file, second] });
    const { ack } = await slack.mention({
      user: ALICE,
      channel: CHANNEL,
      thread_ts: parent.ts,
      text: 'waves crashing -motion 180 --frames 2 --steps 1 --seed 5',
    });
    expect(ack.payload).toEqual({});
    const [video] = await fake.waitFor(
      'video in the thread',
      () => videosIn(parent.ts).length > 0 && videosIn(parent.ts),
    );
    expect(probe(video!.data).frames).toBe(2);
    expect(video!.initial_comment).toContain('waves crashing');
    expect(video!.initial_comment).toContain('--motion 180');
    // Several pictures: the first is used, and the status says so.
    expect(JSON.stringify(statusIn(parent.ts)[0]!.blocks)).toContain('I used the first, “sea.png”');
    const replies = fake.callsOf('conversations.replies').at(-1)!;
    expect(replies.args).toMatchObject({ channel: CHANNEL, ts: parent.ts });
    // The download carried the bot token.
    expect(fake.downloads.some((d) => d.path.includes(file.id) && d.authorized)).toBe(true);
  });

  it('with a file that is not a picture: a specific ephemeral error, no job', async () => {
    const { fake, slack } = rig;
    const jobs = (await rig.sidecar.service.list(ALICE_ID)).length;
    const file = fake.addFile({ name: 'notes.txt', mimetype: 'text/plain', data: Buffer.from('hello') });
    const before = ephemeralsFor(fake, ALICE.id).length;
    await slack.mention({ user: ALICE, channel: CHANNEL, text: 'animate this', files: [file] });
    const text = await fake.waitFor('ephemeral', () => ephemeralsFor(fake, ALICE.id)[before]);
    expect(text).toContain('notes.txt');
    expect(text).toMatch(/not a picture/i);
    expect((await rig.sidecar.service.list(ALICE_ID)).length).toBe(jobs);
  });

  it('over the per-user limit: says which limit, and removes the status message it had posted', async () => {
    const { fake, slack, sidecar } = rig;
    await sidecar.service.pause();
    const limits = (await sidecar.service.queue()).limits;
    await sidecar.service.setLimits({ per_user: 1 });
    try {
      const a = fake.addFile({ name: 'a.png', mimetype: 'image/png', data: PICTURE });
      await slack.mention({ user: BOB, channel: CHANNEL, text: '--frames 2 --steps 1', files: [a] });
      await fake.waitFor('first job queued', () =>
        fake.ws.messages.some(
          (m) => m.text.includes('Queued') && JSON.stringify(m.blocks).includes('<@U0BOB>'),
        ),
      );
      const deletes = fake.callsOf('chat.delete').length;
      const before = ephemeralsFor(fake, BOB.id).length;
      await slack.mention({ user: BOB, channel: CHANNEL, text: '--frames 2 --steps 1', files: [a] });
      const text = await fake.waitFor('refusal', () => ephemeralsFor(fake, BOB.id)[before]);
      expect(text).toMatch(/limit/i);
      expect(fake.callsOf('chat.delete').length).toBe(deletes + 1);
    } finally {
      await sidecar.service.clear();
      await sidecar.service.setLimits(limits);
      await sidecar.service.resume();
    }
  });

  it('answers help with the option list', async () => {
    const { fake, slack } = rig;
    const before = ephemeralsFor(fake, ALICE.id).length;
    await slack.mention({ user: ALICE, channel: CHANNEL, text: 'help' });
    const text = await fake.waitFor('help', () => ephemeralsFor(fake, ALICE.id)[before]);
    expect(text).toContain('--guidance');
  });
});

describe('buttons', () => {
  /** Starts a job by mention in a fresh thread; answers the thread and the status message. */
  async function mentionJob(options: string) {
    const { fake, slack } = rig;
    const file = fake.addFile({ name: 'p.png', mimetype: 'image/png', data: PICTURE });
    const { message } = await slack.mention({ user: ALICE, channel: CHANNEL, text: options, files: [file] });
    const status = await fake.waitFor('status', () => statusIn(message.ts)[0]);
    return { thread: message.ts, status };
  }

  it('Cancel while queued and while running: the owner cancels, the status says so', async () => {
    const { fake, slack, sidecar } = rig;
    await sidecar.service.pause();
    const queued = await mentionJob('--frames 2 --steps 1');
    await fake.waitFor('cancel button', () => buttonIds(queued.status).includes('stillmotion_cancel'));
    await slack.clickButton(queued.status, 'stillmotion_cancel', ALICE);
    await fake.waitFor('canceled', () => queued.status.text.includes('Canceled'));
    await sidecar.service.resume();

    const running = await mentionJob('--frames 4 --steps 50');
    await fake.waitFor('running', () => running.status.text.includes('Animating'));
    await slack.clickButton(running.status, 'stillmotion_cancel', ALICE);
    await fake.waitFor('canceled', () => running.status.text.includes('Canceled'));
    expect(buttonIds(running.status)).toEqual([]);
    expect(videosIn(running.thread)).toHaveLength(0);
    const states = (await sidecar.service.list(ALICE_ID)).slice(0, 2).map((j) => j.state); // newest first
    expect(states).toEqual(['canceled', 'canceled']);
  });

  it('Reroll gives a new seed, More motion +50 with the same seed, Delete removes the video', async () => {
    const { fake, slack } = rig;
    const first = await mentionJob('--frames 2 --steps 1 --seed 11 --motion 100');
    await fake.waitFor('result', () => buttonIds(first.status).includes('stillmotion_reroll'));

    await slack.clickButton(first.status, 'stillmotion_more_motion', ALICE);
    await fake.waitFor('second video', () => videosIn(first.thread).length === 2);
    expect(videosIn(first.thread)[1]!.initial_comment).toContain(
      '--motion 150 --fps 7 --frames 2 --steps 1 --seed 11',
    );

    await slack.clickButton(first.status, 'stillmotion_reroll', ALICE);
    await fake.waitFor('third video', () => videosIn(first.thread).length === 3);
    const third = videosIn(first.thread)[2]!.initial_comment!;
    expect(third).toContain('--motion 100');
    expect(third).not.toContain('--seed 11 ');

    await slack.clickButton(first.status, 'stillmotion_delete', ADMIN);
    await fake.waitFor('deleted', () => first.status.text.includes('Deleted by <@U0ADMIN>'));
    expect(videosIn(first.thread)).toHaveLength(2);
    expect(fake.callsOf('files.delete')).toHaveLength(1);
  });
});

describe('/animate-queue', () => {
  it('is refused to non-admins, and the refusal is logged', async () => {
    const { slack } = rig;
    const ack = await slack.slashCommand('/animate-queue', 'clear', BOB, CHANNEL);
    expect(ack.payload.text).toContain('Only admins');
    expect(rig.logs.some((l) => l.admin === 'slack:T0FAKE:U0BOB' && l.allowed === false)).toBe(true);
  });

  it("lets an admin cancel someone else's job by id", async () => {
    const { fake, slack, sidecar } = rig;
    await sidecar.service.pause();
    try {
      const file = fake.addFile({ name: 'q.png', mimetype: 'image/png', data: PICTURE });
      const { message } = await slack.mention({
        user: BOB,
        channel: CHANNEL,
        text: '--frames 2 --steps 1',
        files: [file],
      });
      const status = await fake.waitFor('queued', () =>
        statusIn(message.ts).find((m) => m.text.includes('Queued')),
      );
      const [job] = await sidecar.service.list('slack:T0FAKE:U0BOB');
      const list = await slack.slashCommand('/animate-queue', 'list', ADMIN, CHANNEL);
      expect(list.payload.text).toContain(`\`${job!.id}\` queued #1 · slack:T0FAKE:U0BOB`);
      const ack = await slack.slashCommand('/animate-queue', `cancel ${job!.id}`, ADMIN, CHANNEL);
      expect(ack.payload.text).toBe(`✖️ Canceled \`${job!.id}\` (slack:T0FAKE:U0BOB).`);
      await fake.waitFor('status canceled', () => status.text.includes('Canceled'));
      expect(
        rig.logs.some(
          (l) => l.admin === 'slack:T0FAKE:U0ADMIN' && l.action === 'cancel' && l.target === job!.id,
        ),
      ).toBe(true);
    } finally {
      await sidecar.service.resume();
    }
  });

  it('lets an admin list, pause, limit, resume and clear, logging each action', async () => {
    const { slack } = rig;
    const list = await slack.slashCommand('/animate-queue', 'list', ADMIN, CHANNEL);
    expect(list.payload.text).toContain('limits: 3 per user');
    expect((await slack.slashCommand('/animate-queue', 'pause', ADMIN, CHANNEL)).payload.text).toContain(
      'Paused',
    );
    expect((await rig.sidecar.service.queue()).paused).toBe(true);
    expect((await slack.slashCommand('/animate-queue', 'limit 5 50', ADMIN, CHANNEL)).payload.text).toContain(
      '5 jobs per user, 50 in the queue',
    );
    expect((await slack.slashCommand('/animate-queue', 'resume', ADMIN, CHANNEL)).payload.text).toContain(
      'Resumed',
    );
    expect((await slack.slashCommand('/animate-queue', 'clear', ADMIN, CHANNEL)).payload.text).toContain(
      'Cleared',
    );
    const actions = rig.logs.filter((l) => l.admin === 'slack:T0FAKE:U0ADMIN').map((l) => l.action);
    expect(actions.slice(-5)).toEqual(['list', 'pause', 'limit', 'resume', 'clear']);
    expect((await rig.sidecar.service.queue()).limits).toEqual({ per_user: 5, max_queued: 50 });
  });

  it('accepts and refuses the same per-user limits as HTTP and Discord (1–1000)', async () => {
    const { slack, sidecar } = rig;
    const before = (await sidecar.service.queue()).limits;
    try {
      for (const value of LIMIT_EDGES.refused) {
        const ack = await slack.slashCommand('/animate-queue', `limit ${value}`, ADMIN, CHANNEL);
        expect(ack.payload.text).toBe(
          `❌ The per-user limit must be a whole number within 1–1000 (got ${value}).`,
        );
        expect((await sidecar.service.queue()).limits.per_user).toBe(before.per_user);
      }
      for (const value of LIMIT_EDGES.accepted) {
        const ack = await slack.slashCommand('/animate-queue', `limit ${value}`, ADMIN, CHANNEL);
        expect(ack.payload.text).toBe(
          `✅ Limits: ${value} jobs per user, ${before.max_queued} in the queue.`,
        );
        expect((await sidecar.service.queue()).limits.per_user).toBe(value);
      }
    } finally {
      await sidecar.service.setLimits(before);
    }
  });

  it('lets an admin set daily quotas, and /animate help shows each user what is left today', async () => {
    const { slack } = rig;
    const refused = await slack.slashCommand('/animate-queue', 'quota 1 5', BOB, CHANNEL);
    expect(refused.payload.text).toContain('Only admins');
    const set = await slack.slashCommand('/animate-queue', 'quota 4 9', ADMIN, CHANNEL);
    expect(set.payload.text).toContain('Daily quotas: 4 a day per user, 9 a day per workspace');
    try {
      const help = await slack.slashCommand('/animate', 'help', ALICE, CHANNEL);
      expect(help.payload.text).toMatch(
        /Today: 4 of 4 jobs left for you, 9 of 9 for this workspace · resets 00:00 UTC/,
      );
      expect(await rig.sidecar.service.quotaLeft('slack:T0FAKE:U0ALICE')).toMatchObject({
        user: { limit: 4, left: 4 },
        guild: { limit: 9, left: 9 },
      });
    } finally {
      await slack.slashCommand('/animate-queue', 'quota 0 0', ADMIN, CHANNEL);
    }
    // No quota: help says nothing about it.
    expect((await slack.slashCommand('/animate', 'help', ALICE, CHANNEL)).payload.text).not.toContain(
      'Today:',
    );
  });
});
