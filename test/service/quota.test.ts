/**
 * Daily quotas (issue 14, item 4) in both queue backends: jobs accepted per UTC day per user and
 * per guild (here Slack workspaces, from the namespaced user id, and a Discord guild from the
 * delivery target); the refusal names the quota and when it resets; what is left; an admin's
 * change at run time, over HTTP too, kept across a restart with the counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/http/app.ts';
import { listen } from '../../src/http/server.ts';
import { createLogger } from '../../src/log.ts';
import { createRedisProducer } from '../../src/scale/producer.ts';
import { quotaResetAt } from '../../src/service/quota.ts';
import { createLocalSidecar, sidecarConfig } from '../../src/service/sidecar.ts';
import type { JobService } from '../../src/service/types.ts';
import { png } from '../scale/harness.ts';
import { RedisServer } from '../scale/redis-server.ts';

const logger = createLogger('silent');
const TOKEN = 'quota-admin-token-0123456789abcdef';
const QUOTAS = { dailyQuotaUser: 2, dailyQuotaGuild: 3, perUser: 50 };
const TINY = { frames: 2, steps: 1 };

interface Backend {
  open(): Promise<{ service: JobService; close(): Promise<void> }>;
  destroy(): Promise<void>;
}

function localBackend(): Backend {
  const dir = mkdtempSync(path.join(tmpdir(), 'sm-quota-'));
  return {
    async open() {
      const sidecar = await createLocalSidecar(sidecarConfig(dir, { device: 'cpu', ...QUOTAS }), logger);
      return { service: sidecar.service, close: () => sidecar.service.shutdown() };
    },
    async destroy() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function redisBackend(): Backend {
  const server = new RedisServer();
  return {
    async open() {
      if (!server.port) await server.start();
      const p = await createRedisProducer(
        {
          redisUrl: server.url,
          maxQueued: 100,
          maxUploadBytes: 20_000_000,
          maxPixels: 40_000_000,
          resultTtlMs: 3_600_000,
          modelDir: undefined,
          ...QUOTAS,
        },
        logger,
      );
      return { service: p.service, close: () => p.close() };
    },
    destroy: () => server.destroy(),
  };
}

const backends: [string, () => Backend][] = [
  ['local', localBackend],
  ['redis', redisBackend],
];

describe.each(backends)('daily quotas, %s backend', (_name, make) => {
  const backend = make();
  afterAll(() => backend.destroy());

  it('counts per user and per guild, refuses naming the quota and its reset, and keeps admin changes', async () => {
    const image = await png();
    let { service, close } = await backend.open();
    const submit = (user: string, delivery?: Record<string, unknown>) =>
      service.submit({ image, options: TINY, user, delivery });
    try {
      await submit('slack:T1:U1');
      await submit('slack:T1:U1');
      const mine = await submit('slack:T1:U1').catch((e) => e);
      expect(mine).toMatchObject({ status: 429, code: 'daily_quota' });
      expect(mine.message).toMatch(
        /daily quota of 2 jobs \(DAILY_QUOTA_USER\); it resets at 00:00 UTC \(in /,
      );
      // The workspace has one job left: another user takes it; then the workspace is refused.
      await submit('slack:T1:U2');
      const team = await submit('slack:T1:U3').catch((e) => e);
      expect(team).toMatchObject({ status: 429, code: 'daily_quota' });
      expect(team.message).toMatch(/server or workspace .* 3 jobs \(DAILY_QUOTA_GUILD\)/);
      // Another workspace, and a Discord guild named by the (trusted) delivery, count apart.
      await submit('slack:T2:U1');
      for (const user of ['discord:1', 'discord:2', 'discord:3'])
        await submit(user, { platform: 'discord', guildId: '777' });
      const guild = await submit('discord:4', { platform: 'discord', guildId: '777' }).catch((e) => e);
      expect(guild).toMatchObject({ code: 'daily_quota' });
      expect(await service.quotaLeft!('slack:T1:U1')).toEqual({
        user: { limit: 2, used: 2, left: 0 },
        guild: { limit: 3, used: 3, left: 0 },
        resets_at: quotaResetAt(),
      });
      expect((await service.quotaLeft!('web:nobody')).guild).toBeNull();

      // An admin raises the user quota over HTTP.
      const app = await buildApp({
        service,
        info: { model: (await service.describeModel()) as never, ready: () => true, provider: () => 'cpu' },
        logger,
        adminToken: TOKEN,
        playground: false,
      });
      const server = await listen(app, '127.0.0.1', 0);
      try {
        const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
        const anon = await fetch(`${server.url}v1/queue/quotas`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: '{"user":9}',
        });
        expect(anon.status).toBe(401);
        const bad = await fetch(`${server.url}v1/queue/quotas`, {
          method: 'PUT',
          headers: auth,
          body: '{"user":-1}',
        });
        expect(bad.status).toBe(400);
        const put = await fetch(`${server.url}v1/queue/quotas`, {
          method: 'PUT',
          headers: auth,
          body: '{"user":5}',
        });
        expect(await put.json()).toEqual({ user: 5, guild: 3 });
        const left = await fetch(`${server.url}v1/quota?user=${encodeURIComponent('slack:T2:U1')}`, {
          headers: auth,
        });
        expect(await left.json()).toMatchObject({ user: { limit: 5, used: 1, left: 4 }, guild: { used: 1 } });
        // Anonymous callers see their own quota only: naming another user is refused.
        const peek = await fetch(`${server.url}v1/quota?user=${encodeURIComponent('slack:T2:U1')}`);
        expect(peek.status).toBe(403);
        const own = await fetch(`${server.url}v1/quota`);
        expect(own.status).toBe(200);
        expect(await own.json()).toMatchObject({ user: { used: 0 } });
      } finally {
        await server.close();
      }
      await submit('slack:T2:U1');

      // Restarted: the admin's quotas and today's counts are still there.
      await close();
      ({ service, close } = await backend.open());
      expect(await service.quotaLeft!('slack:T2:U1')).toMatchObject({
        user: { limit: 5, used: 2, left: 3 },
        guild: { limit: 3, used: 2, left: 1 },
      });
      await service.setQuotas!({ user: 0, guild: 0 });
      // 0 turns the quotas off.
      for (let i = 0; i < 3; i++) await submit('slack:T1:U3');
    } finally {
      await close();
    }
  });
});
