/**
 * The Slack bot as deployed beside a sidecar: HTTP mode mounted on the real sidecar app
 * (src/http/app.ts) at POST /slack/events, and the job service reached over HTTP through the
 * ENGINE_URL client. A mention in a thread runs a real job on the tiny model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountSlackEvents } from '../../bots/slack/http-mount.ts';
import { type SlackBot, startSlack } from '../../bots/slack/start.ts';
import { buildApp } from '../../src/http/app.ts';
import { type Listening, listen } from '../../src/http/server.ts';
import { HttpJobService } from '../../src/service/http-client.ts';
import { createLocalSidecar, type LocalSidecar, sidecarConfig } from '../../src/service/sidecar.ts';
import { SlackDriver } from '../fakes/slack/driver.ts';
import { FakeSlack } from '../fakes/slack/fake-slack.ts';
import { ALICE, CHANNEL, PICTURE, probe } from './harness.ts';

let fake: FakeSlack;
let sidecar: LocalSidecar;
let server: Listening;
let bot: SlackBot | undefined;
let dataDir: string;
const TOKEN = 'slack-sidecar-token-0123456789abcdef';

beforeAll(async () => {
  fake = await FakeSlack.start();
  dataDir = mkdtempSync(path.join(tmpdir(), 'sm-slack-sidecar-'));
  const logger = pino({ level: 'error' }, pino.destination(2));
  sidecar = await createLocalSidecar(sidecarConfig(dataDir, { device: 'cpu', dataDirMaxBytes: 1e9 }), logger);
  await sidecar.warm();
  const app = await buildApp({
    service: sidecar.service,
    info: {
      model: sidecar.service.model,
      ready: () => sidecar.service.ready,
      provider: () => sidecar.service.provider,
    },
    logger,
    adminToken: TOKEN,
    playground: false,
  });
  mountSlackEvents(app, () => bot);
  server = await listen(app, '127.0.0.1', 0);
  // As main.ts builds it for ENGINE_URL: the bot speaks for its users with the token.
  const remote = new HttpJobService({ baseUrl: server.url, token: TOKEN });
  bot = await startSlack({
    service: remote,
    logger,
    config: {
      env: {
        SLACK_BOT_TOKEN: fake.botToken,
        SLACK_SIGNING_SECRET: 'sidecar-secret',
        SLACK_API_URL: fake.apiUrl,
        ATTACHMENT_HOSTS: fake.host,
        ENGINE_URL: server.url,
      },
    },
  });
});

afterAll(async () => {
  await bot?.stop();
  await server?.close();
  await sidecar?.service.shutdown();
  await fake?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('beside the sidecar (HTTP mode + ENGINE_URL)', () => {
  it('takes a mention at /slack/events on the sidecar port and delivers the video through the remote service', async () => {
    const slack = new SlackDriver(fake, {
      url: `${server.url}slack/events`,
      signingSecret: 'sidecar-secret',
    });
    const file = fake.addFile({ name: 'hill.png', mimetype: 'image/png', data: PICTURE });
    const parent = fake.ws.post({ channel: CHANNEL, user: ALICE.id, text: 'a hill', files: [file] });
    const { ack } = await slack.mention({
      user: ALICE,
      channel: CHANNEL,
      thread_ts: parent.ts,
      text: 'wind --frames 2 --steps 1',
    });
    expect(ack.ms).toBeLessThan(3000);
    const video = await fake.waitFor('video', () =>
      [...fake.ws.files.values()].find((f) => f.thread_ts === parent.ts && f.mimetype === 'video/mp4'),
    );
    expect(probe(video.data).frames).toBe(2);
    for (let i = 0; i < 200 && !(await sidecar.service.list('slack:T0FAKE:U0ALICE'))[0]?.delivered; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const [job] = await sidecar.service.list('slack:T0FAKE:U0ALICE');
    expect(job).toMatchObject({ state: 'succeeded', delivered: true });
    expect(bot?.mode).toBe('http');
  });
});
