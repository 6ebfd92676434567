import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMIT_EDGES } from '../chat/limit-edges.ts';
import type { FakeUser } from '../fakes/discord/fake-discord.ts';
import {
  type Harness,
  queueCommand as queueCommandIn,
  queueJobs as queueJobsIn,
  SMALL,
  startHarness,
} from './harness.ts';

let h: Harness;
const logLines: string[] = [];
let dave: FakeUser;

beforeAll(async () => {
  h = await startHarness({
    // The fake's guild is the home guild: its admins also pause, resume and set limits.
    config: (fake) => ({ adminRoleIds: [fake.modRoleId], homeGuildIds: [fake.guildId] }),
    logLevel: 'info',
    logDestination: { write: (line: string) => void logLines.push(line) },
  });
  dave = h.fake.user('dave');
});

// A test that paused the queue and then failed must not leave the next ones waiting forever.
afterEach(async () => {
  await h?.sidecar.service.resume();
});

afterAll(async () => {
  await h?.stop();
});

const queueJobs = (user: FakeUser, n: number) => queueJobsIn(h, user, n);

function queueCommand(sub: string, opts: { admin?: boolean; roles?: string[]; options?: unknown[] } = {}) {
  return queueCommandIn(h, sub, { ...opts, user: opts.admin || opts.roles ? h.fake.user('mod') : dave });
}

describe('/queue (admins)', () => {
  it('is registered with Manage Server as the default member permission', async () => {
    const { commandPayload } = await import('../../bots/discord/register.ts');
    const queue = (commandPayload() as { name: string; default_member_permissions?: string }[]).find(
      (c) => c.name === 'queue',
    );
    expect(queue?.default_member_permissions).toBe((1n << 5n).toString());
  });

  it('refuses a non-admin /queue clear, and an admin clears', async () => {
    await h.sidecar.service.pause();
    try {
      const ids = await queueJobs(dave, 2);
      const refused = await queueCommand('clear');
      expect(refused.ephemeral).toBe(true);
      expect(refused.text).toMatch(/Only server admins/);
      for (const id of ids) expect((await h.sidecar.service.get(id))?.state).toBe('queued');
      const cleared = await queueCommand('clear', { admin: true });
      expect(cleared.text).toMatch(/2 waiting jobs canceled/);
      const logged = logLines.map((l) => JSON.parse(l)).filter((l) => /admin action/.test(l.msg));
      expect(logged).toContainEqual(
        expect.objectContaining({ msg: 'admin action refused', user: `discord:${dave.id}`, action: 'clear' }),
      );
      expect(logged).toContainEqual(
        expect.objectContaining({
          msg: 'admin action',
          action: 'clear',
          admin: expect.stringMatching(/^discord:\d+$/),
        }),
      );
      for (const id of ids) expect((await h.sidecar.service.get(id))?.state).toBe('canceled');
    } finally {
      await h.sidecar.service.resume();
      await h.bot.idle();
    }
  });

  it('lets a configured admin role list, pause, resume, limit and cancel', async () => {
    const roles = [h.fake.modRoleId];
    expect((await queueCommand('pause', { roles })).text).toMatch(/Paused/);
    expect((await h.sidecar.service.queue()).paused).toBe(true);
    const [id] = await queueJobs(dave, 1);
    const list = await queueCommand('list', { roles });
    expect(list.text).toMatch(/Queue paused · 0 running, 1 queued/);
    expect(list.text).toContain(`\`${id}\` queued #1 · discord:${dave.id}`);
    expect(
      (await queueCommand('limit', { roles, options: [{ name: 'per_user', type: 4, value: 5 }] })).text,
    ).toMatch(/5 jobs per user/);
    expect((await h.sidecar.service.queue()).limits.per_user).toBe(5);
    const quota = await queueCommand('quota', {
      roles,
      options: [
        { name: 'per_user', type: 4, value: 7 },
        { name: 'per_server', type: 4, value: 40 },
      ],
    });
    expect(quota.text).toMatch(/Daily quotas: 7 a day per user, 40 a day per server/);
    expect(await h.sidecar.service.quotaLeft(`discord:${dave.id}`)).toMatchObject({ user: { limit: 7 } });
    await h.sidecar.service.setQuotas({ user: 0, guild: 0 });
    const canceled = await queueCommand('cancel', { roles, options: [{ name: 'job', type: 3, value: id }] });
    expect(canceled.text).toContain(`Canceled \`${id}\``);
    expect((await queueCommand('resume', { roles })).text).toMatch(/Resumed/);
    expect((await h.sidecar.service.queue()).paused).toBe(false);
    await h.bot.idle();
  });
});

describe('/queue limit', () => {
  it('accepts and refuses the same per-user limits as HTTP and Slack (1–1000)', async () => {
    const before = (await h.sidecar.service.queue()).limits;
    const limit = (value: number) =>
      queueCommand('limit', { admin: true, options: [{ name: 'per_user', type: 4, value }] });
    try {
      for (const value of LIMIT_EDGES.refused) {
        expect((await limit(value)).text).toBe(
          `🚫 The per-user limit must be a whole number within 1–1000 (got ${value}).`,
        );
        expect((await h.sidecar.service.queue()).limits.per_user).toBe(before.per_user);
      }
      for (const value of LIMIT_EDGES.accepted) {
        expect((await limit(value)).text).toBe(
          `✅ Limits: ${value} jobs per user, ${before.max_queued} in the queue.`,
        );
        expect((await h.sidecar.service.queue()).limits.per_user).toBe(value);
      }
    } finally {
      await h.sidecar.service.setLimits(before);
    }
  });
});

describe('/jobs', () => {
  it('lists your own jobs with Cancel on waiting ones', async () => {
    const { fake } = h;
    await h.sidecar.service.pause();
    try {
      const erin = fake.user('erin');
      const [id] = await queueJobs(erin, 1);
      const ix = fake.slash('jobs', [], { user: erin });
      const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
      expect(cb.body.data.flags & 64).toBe(64);
      expect(cb.body.data.content).toContain(`\`${id}\``);
      expect(cb.body.data.content).toMatch(/Queued: position/);
      expect(cb.body.data.components[0].components[0].custom_id).toBe(`sm:cancel:${id}`);
      const other = fake.slash('jobs', [], { user: fake.user('frank') });
      const none = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${other.id}/`));
      expect(none.body.data.content).toMatch(/no jobs/);
    } finally {
      await h.sidecar.service.clear();
      await h.sidecar.service.resume();
      await h.bot.idle();
    }
  });

  it("shows what is left of today's quotas, for you and this server", async () => {
    const { fake } = h;
    await h.sidecar.service.setQuotas({ user: 3, guild: 50 });
    await h.sidecar.service.pause();
    try {
      const gina = fake.user('gina');
      await queueJobs(gina, 1);
      const ix = fake.slash('jobs', [], { user: gina });
      const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
      // The job counted against gina and against the guild it was asked in.
      expect(cb.body.data.content).toMatch(
        /^Today: 2 of 3 jobs left for you, 49 of 50 for this server · resets 00:00 UTC/,
      );
    } finally {
      await h.sidecar.service.setQuotas({ user: 0, guild: 0 });
      await h.sidecar.service.clear();
      await h.sidecar.service.resume();
      await h.bot.idle();
    }
  });

  it('a refused submission (your limit reached) is ephemeral and says what to do', async () => {
    const { fake } = h;
    await h.sidecar.service.setLimits({ per_user: 1 });
    await h.sidecar.service.pause();
    try {
      const gina = fake.user('gina');
      await queueJobs(gina, 1);
      const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
        user: gina,
        attachments: [image],
      });
      const follow = await fake.waitForCall(
        (c) => c.method === 'POST' && c.path === `/webhooks/${fake.appId}/${ix.token}`,
      );
      expect(follow.body.flags & 64).toBe(64);
      expect(follow.body.content).toMatch(/Wait for a job to finish/);
      expect(fake.callsFor(ix).map((c) => c.method)).toEqual(['POST', 'DELETE', 'POST']);
    } finally {
      await h.sidecar.service.setLimits({ per_user: 3 });
      await h.sidecar.service.clear();
      await h.sidecar.service.resume();
      await h.bot.idle();
    }
  });
});
