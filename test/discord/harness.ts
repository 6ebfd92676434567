/**
 * End-to-end harness: the real in-process job service on the tiny model, the real discord.js bot
 * (startDiscord), and the fake Discord with its CDN. One per test file.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { expect } from 'vitest';
import type { DiscordConfig } from '../../bots/discord/config.ts';
import { type DiscordBot, startDiscord } from '../../bots/discord/start.ts';
import type { ResultLinks } from '../../src/service/result-links.ts';
import { createLocalSidecar, type LocalSidecar, sidecarConfig } from '../../src/service/sidecar.ts';
import { FakeDiscord, type FakeUser, type RestCall } from '../fakes/discord/fake-discord.ts';
import { ffprobe, type ProbeResult } from '../helpers/ffprobe.ts';

export const INPUT_PNG = path.resolve(import.meta.dirname, '../fixtures/case_public/input.png');

/** Small jobs so the suite stays fast on two cores. */
export const SMALL = [
  { name: 'frames', type: 4, value: 2 },
  { name: 'steps', type: 4, value: 1 },
] as const;

export interface Harness {
  readonly fake: FakeDiscord;
  readonly sidecar: LocalSidecar;
  readonly bot: DiscordBot;
  readonly dataDir: string;
  readonly png: Buffer;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  readonly config?: Partial<DiscordConfig> | ((fake: FakeDiscord) => Partial<DiscordConfig>);
  /**
   * Configure the bot as `npm start` does instead: the service's config with these variables (plus
   * DISCORD_TOKEN, DISCORD_API_URL and ATTACHMENT_HOSTS for the fake) in its `env`.
   */
  readonly env?: (fake: FakeDiscord) => Record<string, string>;
  readonly dataDir?: string;
  /** Start the queue (load the engine) now. @default true */
  readonly warm?: boolean;
  readonly perUser?: number;
  readonly logLevel?: string;
  /** Where logs go (default stderr). */
  readonly logDestination?: pino.DestinationStream;
  readonly resultLinks?: ResultLinks;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const dataDir = options.dataDir ?? (await mkdtemp(path.join(tmpdir(), 'sm-discord-')));
  const logger = pino(
    { level: options.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent' },
    options.logDestination ?? pino.destination(2),
  );
  const serviceConfig = sidecarConfig(dataDir, {
    device: 'cpu',
    perUser: options.perUser ?? 3,
    resultTtlMs: 3_600_000,
    dataDirMaxBytes: 1e9,
  });
  const sidecar = await createLocalSidecar(serviceConfig, logger);
  if (options.warm !== false) await sidecar.warm();
  const fake = await FakeDiscord.start();
  // Discord's deadline is 3 s; the suite shares two cores with other work, so the fake is lenient
  // here and the /animate test asserts the 3 s itself.
  fake.state.ackDeadlineMs = 10_000;
  const fromEnv = options.env && {
    ...serviceConfig,
    env: {
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      ATTACHMENT_HOSTS: fake.cdn.host,
      ...options.env(fake),
    },
  };
  const bot = await startDiscord({
    service: sidecar.service,
    logger,
    resultLinks: options.resultLinks,
    config: fromEnv || {
      token: fake.token,
      apiUrl: fake.apiUrl,
      adminRoleIds: [],
      ownerIds: [],
      homeGuildIds: [],
      guildIds: [],
      attachmentHosts: [fake.cdn.host],
      // What `npm start` passes: the service's own upload limit.
      maxImageBytes: serviceConfig.maxUploadBytes,
      downloadTimeoutMs: 5000,
      editIntervalMs: 1500,
      defaultUploadLimit: 10 * 1024 * 1024,
      tokenLifetimeMs: 14 * 60 * 1000,
      ...(typeof options.config === 'function' ? options.config(fake) : options.config),
    },
  });
  const png = await readFile(INPUT_PNG);
  return {
    fake,
    sidecar,
    bot,
    dataDir,
    png,
    async stop() {
      await bot.stop();
      await fake.stop();
      await sidecar.service.shutdown();
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** ffprobe on the bytes of an uploaded file. */
export async function probeUpload(data: Buffer, name = 'out.mp4'): Promise<ProbeResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sm-probe-'));
  try {
    const file = path.join(dir, name);
    await writeFile(file, data);
    return await ffprobe(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A message post (bot token) carrying a file, after index `after` of the call log. */
export function isFilePost(c: RestCall): boolean {
  return (
    c.method === 'POST' && /^\/channels\/\d+\/messages$|^\/webhooks\//.test(c.path) && c.files.length > 0
  );
}

/** Edit intervals (ms) between consecutive PATCHes of one interaction's original message. */
export function editGaps(calls: readonly RestCall[]): number[] {
  const edits = calls.filter((c) => c.method === 'PATCH' && c.path.endsWith('/messages/@original'));
  return edits.slice(1).map((c, i) => c.at - edits[i]!.at);
}

/** Submits `n` jobs for `user` with /animate in `channelId` (best while paused); returns their ids. */
export async function queueJobs(
  h: Harness,
  user: FakeUser,
  n: number,
  channelId: string = h.fake.channelId,
): Promise<string[]> {
  const { fake } = h;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    const ix = fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], {
      user,
      attachments: [image],
      channelId,
    });
    const edit = await fake.waitForCall(
      (c) => c.method === 'PATCH' && c.path.includes(ix.token),
      30_000,
      start,
    );
    ids.push(edit.body.components[0].components[0].custom_id.split(':')[2]);
  }
  return ids;
}

export interface QueueCommandOptions {
  readonly user: FakeUser;
  readonly admin?: boolean;
  readonly roles?: string[];
  readonly channelId?: string;
  readonly options?: unknown[];
}

/** Runs `/queue <sub>` and returns the (ephemeral) answer. */
export async function queueCommand(
  h: Harness,
  sub: string,
  opts: QueueCommandOptions,
): Promise<{ ephemeral: boolean; text: string }> {
  const { fake } = h;
  const ix = fake.slash('queue', [{ name: sub, type: 1, options: opts.options ?? [] }], {
    user: opts.user,
    admin: opts.admin,
    roles: opts.roles,
    channelId: opts.channelId,
  });
  const cb = await fake.waitForCall((c) => c.path.startsWith(`/interactions/${ix.id}/`));
  if (cb.body.type === 4)
    return { ephemeral: (cb.body.data.flags & 64) === 64, text: cb.body.data.content as string };
  expect(cb.body.data.flags & 64).toBe(64);
  const edit = await fake.waitForCall((c) => c.method === 'PATCH' && c.path.includes(ix.token));
  return { ephemeral: true, text: edit.body.content as string };
}
