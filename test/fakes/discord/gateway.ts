/**
 * The fake Discord's gateway: enough of the protocol for discord.js 14 with plain JSON frames.
 * HELLO on connect; IDENTIFY → READY then GUILD_CREATE; heartbeat → ACK; RESUME → RESUMED.
 * Tests push INTERACTION_CREATE and MESSAGE_CREATE through {@link FakeGateway.dispatch}.
 */
import type { Server } from 'node:http';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Json } from './rest.ts';

export interface GatewayIdentity {
  readonly user: Record<string, unknown>;
  readonly appId: string;
  readonly guild: () => Record<string, unknown>;
  readonly resumeUrl: () => string;
}

export class FakeGateway {
  readonly #wss: WebSocketServer;
  readonly #identity: GatewayIdentity;
  readonly #sockets = new Set<WebSocket>();
  #seq = 0;
  /** Every op received from clients, for protocol checks. */
  readonly received: { op: number; d: unknown }[] = [];
  /** Intents of the last IDENTIFY. */
  intents: number | undefined;
  #ready: (() => void) | undefined;
  readonly identified: Promise<void>;

  constructor(server: Server, identity: GatewayIdentity) {
    this.#identity = identity;
    this.identified = new Promise((resolve) => {
      this.#ready = resolve;
    });
    this.#wss = new WebSocketServer({ server, path: '/gateway' });
    this.#wss.on('connection', (ws) => this.#open(ws));
  }

  #send(ws: WebSocket, payload: { op: number; d: unknown; t?: string | null; s?: number | null }): void {
    ws.send(JSON.stringify({ t: null, s: null, ...payload }));
  }

  #open(ws: WebSocket): void {
    this.#sockets.add(ws);
    ws.on('close', () => this.#sockets.delete(ws));
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { op: number; d: Json };
      this.received.push(msg);
      switch (msg.op) {
        case 1:
          this.#send(ws, { op: 11, d: null });
          break;
        case 2:
          this.intents = msg.d?.intents;
          this.#send(ws, {
            op: 0,
            t: 'READY',
            s: ++this.#seq,
            d: {
              v: 10,
              user: this.#identity.user,
              guilds: [{ id: String(this.#identity.guild().id), unavailable: true }],
              session_id: 'fake-session',
              resume_gateway_url: this.#identity.resumeUrl(),
              shard: [0, 1],
              application: { id: this.#identity.appId, flags: 0 },
            },
          });
          this.#send(ws, { op: 0, t: 'GUILD_CREATE', s: ++this.#seq, d: this.#identity.guild() });
          this.#ready?.();
          break;
        case 6:
          this.#send(ws, { op: 0, t: 'RESUMED', s: ++this.#seq, d: {} });
          break;
        default:
          break;
      }
    });
    this.#send(ws, { op: 10, d: { heartbeat_interval: 41_250 } });
  }

  /** Sends a dispatch event to every connected client. */
  dispatch(t: string, d: unknown): void {
    const s = ++this.#seq;
    for (const ws of this.#sockets) this.#send(ws, { op: 0, t, s, d });
  }

  close(): void {
    for (const ws of this.#sockets) ws.terminate();
    this.#wss.close();
  }
}
