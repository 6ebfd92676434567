/**
 * HTTP mode (no SLACK_APP_TOKEN): Bolt's HTTPReceiver mounted at POST /slack/events on a fastify
 * server, as the sidecar does; Slack's signed requests are checked with SLACK_SIGNING_SECRET.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountSlackEvents } from '../../bots/slack/http-mount.ts';
import type { SlackBot } from '../../bots/slack/start.ts';
import { SlackDriver } from '../fakes/slack/driver.ts';
import { ALICE, CHANNEL, ephemeralsFor, type Rig, startRig } from './harness.ts';

let rig: Rig;
let server: FastifyInstance;
let url: string;
let late: SlackBot | undefined;

beforeAll(async () => {
  rig = await startRig({ http: true, cold: true });
  server = Fastify();
  // The sidecar registers routes before it listens, and starts the bots after: a getter.
  mountSlackEvents(server, () => late);
  server.get('/healthz', async () => ({ ok: true }));
  await server.listen({ port: 0, host: '127.0.0.1' });
  const { port } = server.server.address() as { port: number };
  url = `http://127.0.0.1:${port}/slack/events`;
});

afterAll(async () => {
  await server?.close();
  await rig?.close();
});

describe('HTTP mode', () => {
  it('answers 503 until the bot is up', async () => {
    const res = await fetch(url, { method: 'POST', body: 'x' });
    expect(res.status).toBe(503);
  });

  it('runs /animate through the mounted receiver: ack, then the modal opens', async () => {
    late = rig.bot;
    expect(rig.bot.mode).toBe('http');
    expect(rig.fake.callsOf('apps.connections.open')).toHaveLength(0);
    const slack = new SlackDriver(rig.fake, { url, signingSecret: 'fake-signing-secret' });
    const ack = await slack.slashCommand('/animate', 'clouds --fps 9', ALICE, CHANNEL);
    expect(ack.ms).toBeLessThan(3000);
    const open = await rig.fake.waitFor('views.open', () => rig.fake.callsOf('views.open')[0]);
    expect(JSON.stringify(open.args.view)).toContain('"initial_value":"clouds"');
  });

  it('takes events too (a mention asking for help)', async () => {
    const slack = new SlackDriver(rig.fake, { url, signingSecret: 'fake-signing-secret' });
    await slack.mention({ user: ALICE, channel: CHANNEL, text: 'help' });
    const text = await rig.fake.waitFor('help', () => ephemeralsFor(rig.fake, ALICE.id)[0]);
    expect(text).toContain('--motion');
  });

  it('refuses a request with a bad signature', async () => {
    const forged = new SlackDriver(rig.fake, { url, signingSecret: 'not-the-secret' });
    const opened = rig.fake.callsOf('views.open').length;
    await expect(forged.slashCommand('/animate', '', ALICE, CHANNEL)).rejects.toThrow(/401/);
    expect(rig.fake.callsOf('views.open').length).toBe(opened);
    const health = await fetch(url.replace('/slack/events', '/healthz'));
    expect(health.status).toBe(200);
  });
});
