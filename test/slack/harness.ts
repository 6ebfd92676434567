/**
 * End-to-end rig for the Slack adapter: the fake Slack, the real in-process job service on the
 * bundled tiny model (journal in a temp DATA_DIR), and the real Bolt app started by startSlack().
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { type SlackBot, startSlack } from '../../bots/slack/start.ts';
import type { ResultLinks } from '../../src/service/result-links.ts';
import { createLocalSidecar, type LocalSidecar, sidecarConfig } from '../../src/service/sidecar.ts';
import { SlackDriver } from '../fakes/slack/driver.ts';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';

export const ALICE = { id: 'U0ALICE', name: 'alice' };
export const BOB = { id: 'U0BOB', name: 'bob' };
export const ADMIN = { id: 'U0ADMIN', name: 'admin' };
export const CHANNEL = 'C0GENERAL';

const here = path.dirname(fileURLToPath(import.meta.url));
export const PICTURE: Buffer = readFileSync(path.resolve(here, '../fixtures/case_public/input.png'));

export interface Rig {
  readonly fake: FakeSlack;
  readonly slack: SlackDriver;
  readonly sidecar: LocalSidecar;
  readonly bot: SlackBot;
  readonly dataDir: string;
  /** Log lines the bot wrote (JSON objects), for checking what admins' actions log. */
  readonly logs: Array<Record<string, unknown>>;
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export interface RigOptions {
  /** Reuse a DATA_DIR (restart tests). */
  readonly dataDir?: string;
  /** Reuse a fake Slack (restart tests). */
  readonly fake?: FakeSlack;
  /** HTTP mode: no app token; the caller mounts bot.requestListener. */
  readonly http?: boolean;
  /** Don't start the queue (jobs stay queued). */
  readonly cold?: boolean;
  /** The bot's delivery sweep interval. */
  readonly sweepMs?: number;
  /** More environment for the bot (e.g. SLACK_MAX_UPLOAD_MB). */
  readonly env?: Record<string, string>;
  readonly resultLinks?: ResultLinks;
  /** Where Reroll's new seeds come from. */
  readonly randomSeed?: () => number;
}

export async function startRig(opts: RigOptions = {}): Promise<Rig> {
  const fake = opts.fake ?? (await FakeSlack.start());
  const dataDir = opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'sm-slack-'));
  const logs: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: process.env.LOG_LEVEL ?? 'info' },
    { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const sidecar = await createLocalSidecar(
    sidecarConfig(dataDir, { device: 'cpu', dataDirMaxBytes: 1e9 }),
    logger,
  );
  if (!opts.cold) await sidecar.warm();
  const env: Record<string, string> = {
    SLACK_BOT_TOKEN: fake.botToken,
    SLACK_API_URL: fake.apiUrl,
    ATTACHMENT_HOSTS: fake.host,
    SLACK_ADMIN_USERS: ADMIN.id,
    ...(opts.http ? { SLACK_SIGNING_SECRET: 'fake-signing-secret' } : { SLACK_APP_TOKEN: fake.appToken }),
    ...opts.env,
  };
  fake.diagnose = () =>
    `recent logs:\n${logs
      .slice(-12)
      .map((l) => `${l.msg} ${l.job ?? ''} ${l.err ? JSON.stringify(l.err).slice(0, 400) : ''}`)
      .join('\n')}`;
  const bot = await startSlack({
    service: sidecar.service,
    logger,
    config: { env, maxUploadBytes: 20_000_000 },
    sweepMs: opts.sweepMs,
    resultLinks: opts.resultLinks,
    randomSeed: opts.randomSeed,
  });
  return {
    fake,
    slack: new SlackDriver(fake),
    sidecar,
    bot,
    dataDir,
    logs,
    async close(o = {}) {
      await bot.stop();
      await sidecar.service.shutdown();
      if (!opts.fake) await fake.close();
      if (!o.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** ffprobe's view of a video: codec, pixel format and frame count. */
export function probe(bytes: Buffer): { codec: string; pix_fmt: string; frames: number } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sm-probe-'));
  try {
    const file = path.join(dir, 'v.mp4');
    writeFileSync(file, bytes);
    const out = execFileSync(
      '/usr/bin/ffprobe',
      [
        '-v',
        'error',
        '-select_streams',
        'v:0',
        '-count_frames',
        '-show_entries',
        'stream=codec_name,pix_fmt,nb_read_frames',
        '-of',
        'json',
        file,
      ],
      { encoding: 'utf8' },
    );
    const s = (
      JSON.parse(out) as { streams: Array<{ codec_name: string; pix_fmt: string; nb_read_frames: string }> }
    ).streams[0]!;
    return { codec: s.codec_name, pix_fmt: s.pix_fmt, frames: Number(s.nb_read_frames) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The ephemeral messages sent to `user`. */
export function ephemeralsFor(fake: FakeSlack, user: string): string[] {
  return fake
    .callsOf('chat.postEphemeral')
    .filter((c) => c.args.user === user)
    .map((c) => String(c.args.text));
}

/** Mentions the bot with a picture in a new message of CHANNEL. */
export function mentionWithPicture(rig: Rig, user: { id: string; name: string }, text: string) {
  const file = rig.fake.addFile({ name: 'p.png', mimetype: 'image/png', data: PICTURE });
  return rig.slack.mention({ user, channel: CHANNEL, text, files: [file] });
}
