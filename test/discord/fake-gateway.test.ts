import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FakeDiscord } from '../fakes/discord/fake-discord.ts';
import type { Json } from '../fakes/discord/rest.ts';

// The fake's own protocol, checked with a raw client (discord.js drives the rest in the other files).
let fake: FakeDiscord;

beforeAll(async () => {
  fake = await FakeDiscord.start();
});

afterAll(async () => {
  await fake?.stop();
});

describe('fake Discord gateway', () => {
  it('GET /gateway/bot, HELLO, IDENTIFY → READY + GUILD_CREATE, heartbeat → ACK, dispatches', async () => {
    const res = await fetch(`${fake.apiUrl}/v10/gateway/bot`, {
      headers: { authorization: `Bot ${fake.token}` },
    });
    const { url } = (await res.json()) as { url: string };
    const unauthorized = await fetch(`${fake.apiUrl}/v10/gateway/bot`, {
      headers: { authorization: 'Bot wrong' },
    });
    expect(unauthorized.status).toBe(401);
    const ws = new WebSocket(`${url}?v=10&encoding=json`);
    const frames: { op: number; t: string | null; d: Json }[] = [];
    const next = (check: (f: (typeof frames)[number]) => boolean) =>
      new Promise<(typeof frames)[number]>((resolve) => {
        const found = frames.find(check);
        if (found) return resolve(found);
        const on = (raw: WebSocket.RawData) => {
          const f = JSON.parse(String(raw));
          if (check(f)) {
            ws.off('message', on);
            resolve(f);
          }
        };
        ws.on('message', on);
      });
    ws.on('message', (raw) => frames.push(JSON.parse(String(raw))));
    const hello = await next((f) => f.op === 10);
    expect(hello.d.heartbeat_interval).toBeGreaterThan(0);
    ws.send(JSON.stringify({ op: 2, d: { token: fake.token, intents: 37377, properties: {} } }));
    const ready = await next((f) => f.t === 'READY');
    expect(ready.d.user.id).toBe(fake.appId);
    expect(ready.d.resume_gateway_url).toBe(url);
    expect((await next((f) => f.t === 'GUILD_CREATE')).d.id).toBe(fake.guildId);
    expect(fake.gateway.intents).toBe(37377);
    ws.send(JSON.stringify({ op: 1, d: 2 }));
    await next((f) => f.op === 11);
    const message = fake.postMessage({ author: fake.user('x'), content: 'hi' });
    expect((await next((f) => f.t === 'MESSAGE_CREATE')).d.id).toBe(message.id);
    const ix = fake.slash('jobs', []);
    const dispatched = await next((f) => f.t === 'INTERACTION_CREATE');
    expect(dispatched.d).toMatchObject({
      id: ix.id,
      token: ix.token,
      entitlements: [],
      channel: { id: fake.channelId },
    });
    ws.close();
  });
});
