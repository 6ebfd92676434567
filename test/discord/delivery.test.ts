import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiscordDelivery } from '../../bots/discord/deliver.ts';
import { startDiscord } from '../../bots/discord/start.ts';
import { createLocalSidecar, type LocalSidecar, sidecarConfig } from '../../src/service/sidecar.ts';
import type { JobView } from '../../src/service/types.ts';
import { type Harness, isFilePost, probeUpload, SMALL, startHarness } from './harness.ts';

let h: Harness;
const logLines: string[] = [];

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  h = await startHarness({
    logLevel: 'debug',
    logDestination: { write: (line: string) => void logLines.push(line) },
  });
});

afterAll(async () => {
  await h?.stop();
});

describe('interaction token expiry', () => {
  it('falls back to a channel message that mentions the user when the webhook answers 401 / 50027', async () => {
    const { fake } = h;
    const hank = fake.user('hank');
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    fake.state.threadsForbidden = true;
    const start = fake.calls.length;
    try {
      const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
        user: hank,
        attachments: [image],
      });
      await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`), 10_000, start);
      fake.state.webhookFailure = { status: 401, code: 50027, message: 'Invalid Webhook Token' };
      const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
      await h.bot.idle();
      const refused = fake.callsFor(ix).filter((c) => c.status === 401);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused[0]!.path).toMatch(/\/messages\/@original$/);
      // Once refused, the token is not used again.
      expect(fake.callsFor(ix).filter((c) => c.path.startsWith('/webhooks/')).length).toBe(refused.length);
      expect(post.path).toBe(`/channels/${fake.channelId}/messages`);
      expect(post.body.content).toMatch(new RegExp(`^<@${hank.id}> `));
      expect(post.body.allowed_mentions).toEqual({ users: [hank.id] });
      expect((await probeUpload(post.files[0]!.data)).codec).toBe('h264');
      // The refusal is logged, without the interaction token or the bot token.
      const logs = logLines.join('');
      expect(logs).toMatch(/Invalid Webhook Token/);
      expect(logs).not.toContain(ix.token);
      expect(logs).not.toContain(fake.token);
    } finally {
      fake.state.webhookFailure = undefined;
      fake.state.threadsForbidden = false;
    }
  });

  it('does not use a token older than its lifetime: the result is a channel message mentioning the user', async () => {
    const { fake } = h;
    const ivy = fake.user('ivy');
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
      user: ivy,
      attachments: [image],
      createdAt: Date.now() - 16 * 60 * 1000,
    });
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await h.bot.idle();
    expect(fake.callsFor(ix).map((c) => c.method)).toEqual(['POST']);
    expect(post.path).toBe(`/channels/${fake.channelId}/messages`);
    expect(post.body.content).toContain(`<@${ivy.id}>`);
  });
});

/** A Discord job's target in the fake's channel (no thread): results go there as messages. */
function channelTarget(userId: string): DiscordDelivery {
  const { fake } = h;
  return {
    platform: 'discord',
    channelId: fake.channelId,
    guildId: fake.guildId,
    userId,
    inThread: false,
    dm: false,
    uploadLimit: 10 * 1024 * 1024,
  };
}

/** A two-frame job of `userId` with `seed`, delivered to the fake's channel. */
function submitFor(sidecar: LocalSidecar, userId: string, seed: number) {
  return sidecar.service.submit({
    image: h.png,
    options: { frames: 2, steps: 1, seed },
    user: `discord:${userId}`,
    delivery: channelTarget(userId),
  });
}

/** A sidecar's settings on `dataDir`, for runs that stop and start again on it. */
function restartSetup(dataDir: string) {
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2));
  return {
    logger,
    config: sidecarConfig(dataDir, { device: 'cpu', resultTtlMs: 3_600_000, dataDirMaxBytes: 1e9 }),
  };
}

describe('after a restart', () => {
  it('retries a delivery that failed, on its own, without another restart (the shared sweep)', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sm-discord-sweep-'));
    const { fake } = h;
    const kim = fake.user('kim');
    const { logger, config } = restartSetup(dataDir);
    const sidecar = await createLocalSidecar(config, logger);
    await sidecar.warm();
    const done = await submitFor(sidecar, kim.id, 8);
    await until(async () => (await sidecar.service.get(done.id))?.state === 'succeeded');
    // The bot starts owing the delivery, but may not post in the channel.
    fake.state.channelPostsForbidden = true;
    const start = fake.calls.length;
    const bot = await startDiscord({
      service: sidecar.service,
      logger,
      config: { ...h.bot.context.config },
      sweepMs: 200,
    });
    try {
      await fake.waitForCall(
        (c) => c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages`,
        30_000,
        start,
      );
      await bot.idle();
      expect((await sidecar.service.get(done.id))?.delivered).toBe(false);
      fake.state.channelPostsForbidden = false;
      const posted = await fake.waitForCall(
        (c) => isFilePost(c) && c.body.content.includes('seed 8'),
        30_000,
        start,
      );
      expect(posted.body.content).toMatch(new RegExp(`^<@${kim.id}> `));
      await until(async () => (await sidecar.service.get(done.id))?.delivered === true);
      const later = fake.calls.length;
      await new Promise((r) => setTimeout(r, 600));
      expect(fake.calls.slice(later).filter(isFilePost)).toEqual([]);
    } finally {
      fake.state.channelPostsForbidden = false;
      await bot.stop();
      await sidecar.service.shutdown();
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('delivers results finished while the bot was away, from the journal, exactly once', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'sm-discord-restart-'));
    const { logger, config } = restartSetup(dataDir);
    const { fake } = h;
    const jack = fake.user('jack');
    // 1. A sidecar accepts two Discord jobs and finishes one while no bot runs; it then stops.
    let sidecar = await createLocalSidecar(config, logger);
    await sidecar.warm();
    const done = await submitFor(sidecar, jack.id, 5);
    await new Promise<void>((resolve) => {
      const off = sidecar.service.subscribe(done.id, (j: JobView) => {
        if (j.state === 'succeeded') resolve(off());
      });
    });
    await sidecar.service.pause();
    const waiting = await submitFor(sidecar, jack.id, 6);
    await sidecar.service.shutdown();
    // 2. Restart: the service reopens its journal, the bot starts and owes two deliveries.
    sidecar = await createLocalSidecar(config, logger);
    const start = fake.calls.length;
    const bot = await startDiscord({ service: sidecar.service, logger, config: { ...h.bot.context.config } });
    try {
      const first = await fake.waitForCall(
        (c) => isFilePost(c) && c.body.content.includes('seed 5'),
        60_000,
        start,
      );
      expect(first.path).toBe(`/channels/${fake.channelId}/messages`);
      expect(first.body.content).toMatch(new RegExp(`^<@${jack.id}> `));
      await until(async () => (await sidecar.service.get(done.id))?.delivered === true);
      await sidecar.warm();
      await sidecar.service.resume();
      const second = await fake.waitForCall(
        (c) => isFilePost(c) && c.body.content.includes('seed 6'),
        120_000,
        start,
      );
      expect((await probeUpload(second.files[0]!.data)).nb_frames).toBe(2);
      await bot.idle();
      expect((await sidecar.service.get(waiting.id))?.delivered).toBe(true);
      expect(await sidecar.service.undelivered()).toEqual([]);
    } finally {
      await bot.stop();
    }
    // 3. Another restart posts nothing again.
    const again = fake.calls.length;
    const bot2 = await startDiscord({
      service: sidecar.service,
      logger,
      config: { ...h.bot.context.config },
    });
    await bot2.idle();
    await bot2.stop();
    expect(fake.calls.slice(again).filter(isFilePost)).toEqual([]);
    await sidecar.service.shutdown();
    await rm(dataDir, { recursive: true, force: true });
  });
});
