/**
 * Admin scope with several guilds (bots/discord/README.md, "Admin scope"). Guild A is the fake's own
 * guild; guild B is one the bot never saw (anyone can invite a public bot to a server of their
 * own); a third is the operators' home guild; a fourth is not on DISCORD_GUILD_IDS. The bot is set
 * up as `npm start` does, from the environment.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { FakeUser } from '../fakes/discord/fake-discord.ts';
import { createMessage } from '../fakes/discord/rest.ts';
import { snowflake } from '../fakes/discord/snowflake.ts';
import {
  type Harness,
  type QueueCommandOptions,
  queueCommand,
  queueJobs,
  SMALL,
  startHarness,
} from './harness.ts';

const homeGuildId = snowflake();
const homeChannelId = snowflake();
let strangerChannelId: string;
let h: Harness;
const logLines: Record<string, unknown>[] = [];
let alice: FakeUser; // a member of guild A
let bob: FakeUser; // a member of guild B
let adminA: FakeUser;
let adminB: FakeUser;
let owner: FakeUser;
let homeAdmin: FakeUser;

beforeAll(async () => {
  owner = { id: snowflake(), username: 'owner', discriminator: '0', global_name: 'owner', avatar: null };
  h = await startHarness({
    logLevel: 'info',
    logDestination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
    env: (fake) => ({
      DISCORD_OWNER_IDS: owner.id,
      DISCORD_HOME_GUILD_IDS: homeGuildId,
      DISCORD_GUILD_IDS: [fake.guildId, fake.otherGuildId, homeGuildId].join(','),
    }),
  });
  h.fake.state.channelGuilds.set(homeChannelId, homeGuildId);
  // A guild the bot was invited to, but that is not on DISCORD_GUILD_IDS.
  strangerChannelId = h.fake.joinGuild().channelId;
  alice = h.fake.user('alice');
  bob = h.fake.user('bob');
  adminA = h.fake.user('admin-a');
  adminB = h.fake.user('admin-b');
  homeAdmin = h.fake.user('home-admin');
});

afterEach(async () => {
  await h?.sidecar.service.clear();
  await h?.sidecar.service.resume();
  await h?.bot.idle();
});

afterAll(async () => {
  await h?.stop();
});

const inA = (user: FakeUser): QueueCommandOptions => ({ user, admin: true });
const inB = (user: FakeUser): QueueCommandOptions => ({
  user,
  admin: true,
  channelId: h.fake.otherChannelId,
});
const state = async (id: string) => (await h.sidecar.service.get(id))?.state;
const adminLogs = () => logLines.filter((l) => /^admin action/.test(String(l.msg)));

/** Guild A's and guild B's jobs, and a Slack job, all waiting. */
async function fill(): Promise<{ a: string[]; b: string[]; slack: string }> {
  await h.sidecar.service.pause();
  const a = await queueJobs(h, alice, 2);
  const b = await queueJobs(h, bob, 1, h.fake.otherChannelId);
  const { id: slack } = await h.sidecar.service.submit({
    image: h.png,
    options: { prompt: 'a secret slack prompt', frames: 2, steps: 1 },
    user: 'slack:T0SECRET:U0CAROL',
    delivery: {
      platform: 'slack',
      team: 'T0SECRET',
      user: 'U0CAROL',
      channel: 'C1',
      status_ts: '1',
      thread_ts: '1',
      file_id: 'F1',
    },
  });
  return { a, b, slack };
}

describe("a guild's admins act on that guild's jobs only", () => {
  it("B's admin lists B's jobs, without A's or Slack's users, ids or prompts", async () => {
    const { a, b, slack } = await fill();
    const list = await queueCommand(h, 'list', inB(adminB));
    expect(list.text).toMatch(new RegExp(`\`${b[0]}\` queued #\\d · discord:${bob.id}`));
    expect(list.text).toContain('(+ 3 jobs of other servers or Slack)');
    for (const hidden of [...a, slack, alice.id, 'slack:T0SECRET', 'secret'])
      expect(list.text).not.toContain(hidden);
    // A's admin sees A's jobs, not B's or Slack's.
    const listA = await queueCommand(h, 'list', inA(adminA));
    for (const id of a) expect(listA.text).toMatch(new RegExp(`\`${id}\` queued #\\d · discord:${alice.id}`));
    for (const hidden of [b[0]!, slack, bob.id, 'slack:']) expect(listA.text).not.toContain(hidden);
  });

  it("B's admin cannot cancel or clear A's jobs; A's admin can", async () => {
    const { a, b, slack } = await fill();
    const cancel = await queueCommand(h, 'cancel', {
      ...inB(adminB),
      options: [{ name: 'job', type: 3, value: a[0] }],
    });
    expect(cancel.text).toMatch(/no longer exists/);
    expect(await state(a[0]!)).toBe('queued');
    const cleared = await queueCommand(h, 'clear', inB(adminB));
    expect(cleared.text).toBe("🧹 Cleared this server's jobs: 1 waiting job canceled.");
    expect(await state(b[0]!)).toBe('canceled');
    for (const id of [...a, slack]) expect(await state(id)).toBe('queued');
    // A's admin cancels one of A's jobs and clears the other; Slack's job is left alone.
    const own = await queueCommand(h, 'cancel', {
      ...inA(adminA),
      options: [{ name: 'job', type: 3, value: a[0] }],
    });
    expect(own.text).toBe(`✖️ Canceled \`${a[0]}\` (discord:${alice.id}).`);
    expect((await queueCommand(h, 'clear', inA(adminA))).text).toMatch(/1 waiting job canceled/);
    expect(await state(a[1]!)).toBe('canceled');
    expect(await state(slack)).toBe('queued');
    expect(adminLogs()).toContainEqual(
      expect.objectContaining({
        msg: 'admin action',
        admin: `discord:${adminB.id}`,
        guild: h.fake.otherGuildId,
        action: 'clear',
      }),
    );
  });

  it("B's admin cannot pause, resume or set limits, nor use the buttons of A's jobs", async () => {
    const { a } = await fill();
    const before = await h.sidecar.service.queue();
    for (const [sub, options] of [
      ['resume', []],
      ['pause', []],
      ['limit', [{ name: 'per_user', type: 4, value: 50 }]],
    ] as const) {
      const r = await queueCommand(h, sub, { ...inB(adminB), options: [...options] });
      expect(r.ephemeral).toBe(true);
      expect(r.text).toMatch(/for the bot's operators/);
    }
    expect((await h.sidecar.service.queue()).paused).toBe(true);
    expect((await h.sidecar.service.queue()).limits).toEqual(before.limits);
    expect(adminLogs()).toContainEqual(
      expect.objectContaining({
        msg: 'admin action refused',
        user: `discord:${adminB.id}`,
        action: 'resume',
      }),
    );
    // A Cancel button for A's job, clicked by B's admin in B: refused, the job waits on.
    const { fake } = h;
    const where = createMessage(fake.state, fake.otherChannelId, { content: 'x' }, []);
    const ix = fake.button(`sm:cancel:${a[0]}`, where, { user: adminB, admin: true });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(cb.body.data.flags & 64).toBe(64);
    expect(cb.body.data.content).toMatch(/Only .* or an admin can use these buttons/);
    expect(await state(a[0]!)).toBe('queued');
    // A's admin, in A, may.
    const inAMessage = createMessage(fake.state, fake.channelId, { content: 'x' }, []);
    const ok = fake.button(`sm:cancel:${a[0]}`, inAMessage, { user: adminA, admin: true });
    await fake.waitForCall(
      (c) => c.method === 'PATCH' && c.path.includes(ok.token) && /Canceled/.test(c.body.content),
    );
    expect(await state(a[0]!)).toBe('canceled');
  });
});

describe('operators', () => {
  it('an owner pauses, resumes and sees other guilds as "elsewhere", without their users', async () => {
    const { a, b } = await fill();
    // No Manage Server anywhere: being in DISCORD_OWNER_IDS is enough.
    expect((await queueCommand(h, 'pause', { user: owner, channelId: h.fake.otherChannelId })).text).toMatch(
      /Paused/,
    );
    const list = await queueCommand(h, 'list', { user: owner, channelId: h.fake.otherChannelId });
    expect(list.text).toMatch(new RegExp(`\`${b[0]}\` queued #\\d · discord:${bob.id}`));
    expect(list.text).toMatch(new RegExp(`\`${a[0]}\` queued #\\d · elsewhere`));
    expect(list.text).not.toContain(alice.id);
    expect(list.text).not.toContain('slack:');
    expect(list.text).not.toContain('secret');
    expect((await queueCommand(h, 'resume', { user: owner, channelId: h.fake.otherChannelId })).text).toMatch(
      /Resumed/,
    );
    expect((await h.sidecar.service.queue()).paused).toBe(false);
  });

  it("a home guild's admin sets limits and clears the whole queue", async () => {
    const { a, b, slack } = await fill();
    const limit = await queueCommand(h, 'limit', {
      user: homeAdmin,
      admin: true,
      channelId: homeChannelId,
      options: [{ name: 'per_user', type: 4, value: 4 }],
    });
    expect(limit.text).toMatch(/4 jobs per user/);
    expect((await h.sidecar.service.queue()).limits.per_user).toBe(4);
    await h.sidecar.service.setLimits({ per_user: 3 });
    const cleared = await queueCommand(h, 'clear', {
      user: homeAdmin,
      admin: true,
      channelId: homeChannelId,
    });
    expect(cleared.text).toBe('🧹 Cleared the whole queue: 4 waiting jobs canceled.');
    for (const id of [...a, ...b, slack]) expect(await state(id)).toBe('canceled');
    // Being admin of a home guild counts only there: the same user without Manage Server in B is nobody.
    const elsewhere = await queueCommand(h, 'pause', { user: homeAdmin, channelId: h.fake.otherChannelId });
    expect(elsewhere.text).toMatch(/Only server admins/);
  });
});

describe('DISCORD_GUILD_IDS', () => {
  it('tells a guild that is not on the list that it is not served, and serves the listed ones', async () => {
    const { fake } = h;
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const requests = fake.cdn.requests.length;
    const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
      user: fake.user('stranger'),
      admin: true,
      attachments: [image],
      channelId: strangerChannelId,
    });
    const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
    expect(cb.body.type).toBe(4);
    expect(cb.body.data.flags & 64).toBe(64);
    expect(cb.body.data.content).toMatch(/I don't serve this server/);
    expect(fake.cdn.requests.length).toBe(requests);
    const list = await queueCommand(h, 'list', {
      user: fake.user('stranger-admin'),
      admin: true,
      channelId: strangerChannelId,
    });
    expect(list.text).toMatch(/I don't serve this server/);
    // A mention there gets the same answer; B (listed, never seen) is served.
    const start = fake.calls.length;
    fake.postMessage({
      author: fake.user('stranger'),
      content: `<@${fake.appId}> hi`,
      channelId: strangerChannelId,
      mentionBot: true,
    });
    const reply = await fake.waitForCall(
      (c) => c.method === 'POST' && c.path === `/channels/${strangerChannelId}/messages`,
      30_000,
      start,
    );
    expect(reply.body.content).toMatch(/I don't serve this server/);
    await h.sidecar.service.pause();
    expect(await queueJobs(h, bob, 1, fake.otherChannelId)).toHaveLength(1);
  });
});
