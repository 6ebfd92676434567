import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeDiscord } from '../fakes/discord/fake-discord.ts';
import { INPUT_PNG, isFilePost, SMALL } from './harness.ts';

// `npm start` (src/main.ts) with DISCORD_TOKEN set starts the Discord adapter beside the sidecar.
let fake: FakeDiscord;
let child: ChildProcess;
let dataDir: string;
let stderr = '';

beforeAll(async () => {
  fake = await FakeDiscord.start();
  dataDir = await mkdtemp(path.join(tmpdir(), 'sm-discord-main-'));
  child = spawn(process.execPath, [path.resolve(import.meta.dirname, '../../src/main.ts')], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DISCORD_TOKEN: fake.token,
      DISCORD_API_URL: fake.apiUrl,
      ATTACHMENT_HOSTS: fake.cdn.host,
      PORT: '0',
      DATA_DIR: dataDir,
      SVD_DEVICE: 'cpu',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  await fake.gateway.identified;
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  await fake?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('npm start with DISCORD_TOKEN', () => {
  it('connects the bot, runs /animate through the in-process sidecar, and never logs the token', async () => {
    const png = await readFile(INPUT_PNG);
    const image = fake.attachment(fake.upload('cat.png', png, 'image/png'));
    fake.slash('animate', [{ name: 'image', type: 11, value: image.id }, ...SMALL], { attachments: [image] });
    const post = await fake.waitForCall((c) => isFilePost(c), 100_000);
    expect(post.files[0]!.contentType).toBe('video/mp4');
    expect(stderr).toMatch(/discord ready/);
    expect(stderr).not.toContain(fake.token);
  });
});
