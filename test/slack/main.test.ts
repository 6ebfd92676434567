/**
 * `npm start` (src/main.ts) with Slack tokens runs the Slack bot: Socket Mode with an app token,
 * and HTTP mode at POST /slack/events on the sidecar's own port with a signing secret.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SlackDriver } from '../fakes/slack/driver.ts';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';
import { ALICE, CHANNEL } from './harness.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
let fake: FakeSlack;
let child: ChildProcess | undefined;
let dataDir: string;

beforeAll(async () => {
  fake = await FakeSlack.start();
});

afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

afterAll(async () => {
  await fake?.close();
});

/** Starts `node src/main.ts` and resolves with the playground URL it prints. */
function startMain(env: Record<string, string>): Promise<string> {
  dataDir = mkdtempSync(path.join(tmpdir(), 'sm-slack-main-'));
  child = spawn(process.execPath, ['src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`main did not start:\n${err}`)), 60_000);
    child!.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /playground at (http:\/\/\S+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child!.once('exit', (code) => reject(new Error(`main exited with ${code}:\n${err}`)));
  });
}

const slackEnv = () => ({
  SLACK_BOT_TOKEN: fake.botToken,
  SLACK_API_URL: fake.apiUrl,
  ATTACHMENT_HOSTS: fake.host,
});

describe('npm start with Slack tokens', () => {
  it('connects over Socket Mode when SLACK_APP_TOKEN is set', async () => {
    await startMain({ ...slackEnv(), SLACK_APP_TOKEN: fake.appToken });
    await fake.socket.connected(60_000);
    const ack = await new SlackDriver(fake).slashCommand('/animate', 'help', ALICE, CHANNEL);
    expect(String(ack.payload.text)).toContain('--frames` 2–14');
  });

  it('serves POST /slack/events on its own port in HTTP mode', async () => {
    const base = await startMain({ ...slackEnv(), SLACK_SIGNING_SECRET: 'main-secret' });
    const slack = new SlackDriver(fake, { url: `${base}slack/events`, signingSecret: 'main-secret' });
    let ack: Awaited<ReturnType<SlackDriver['slashCommand']>> | undefined;
    for (let i = 0; i < 200 && !ack; i++) {
      // 503 until the bot has started (after the server listens).
      ack = await slack.slashCommand('/animate', 'help', ALICE, CHANNEL).catch(() => undefined);
      if (!ack) await new Promise((r) => setTimeout(r, 100));
    }
    expect(String(ack?.payload.text)).toContain('--motion');
  });
});
