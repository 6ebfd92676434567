import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DiscordBot, startDiscord } from '../../bots/discord/start.ts';
import { buildApp } from '../../src/http/app.ts';
import { type Listening, listen } from '../../src/http/server.ts';
import { HttpJobService } from '../../src/service/http-client.ts';
import { type Harness, isFilePost, probeUpload, SMALL, startHarness } from './harness.ts';

// The bot on a remote sidecar (ENGINE_URL): the same flow through the HTTP API and its SSE events.
let h: Harness;
let server: Listening;
let bot: DiscordBot;

beforeAll(async () => {
  h = await startHarness();
  await h.bot.stop();
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2));
  const service = h.sidecar.service;
  const app = await buildApp({
    service,
    info: { model: service.model, ready: () => service.ready, provider: () => service.provider },
    logger,
    adminToken: 'admin-secret-0123456789abcdef',
    playground: false,
  });
  server = await listen(app, '127.0.0.1', 0);
  const remote = new HttpJobService({ baseUrl: server.url, token: 'admin-secret-0123456789abcdef' });
  bot = await startDiscord({ service: remote, logger, config: h.bot.context.config });
});

afterAll(async () => {
  await bot?.stop();
  await server?.close();
  await h?.stop();
});

describe('through ENGINE_URL', () => {
  it('/animate edits progress and posts the MP4 in a thread; model limits come from the remote sidecar', async () => {
    const { fake } = h;
    expect(bot.context.model?.frames).toBe(14);
    const image = fake.attachment(fake.upload('cat.png', h.png, 'image/png'));
    const start = fake.calls.length;
    const ix = fake.slash(
      'animate',
      [{ name: 'image', type: 11, value: image.id }, ...SMALL, { name: 'seed', type: 4, value: 9 }],
      {
        attachments: [image],
      },
    );
    const post = await fake.waitForCall((c) => isFilePost(c), 120_000, start);
    await bot.idle();
    expect(fake.callsFor(ix).filter((c) => c.method === 'PATCH').length).toBeGreaterThanOrEqual(2);
    const statusId = fake.state.interactions.get(ix.id)!.originalId!;
    expect(post.path).toBe(`/channels/${statusId}/messages`);
    expect(post.body.content).toContain('seed 9');
    expect((await probeUpload(post.files[0]!.data)).nb_frames).toBe(2);
    const jobId = post.body.components[0].components[0].custom_id.split(':')[2];
    expect((await h.sidecar.service.get(jobId))?.delivered).toBe(true);
  });
});
