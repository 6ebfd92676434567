/**
 * The fake's Socket Mode side: a `ws` server on `/link` that says `hello`, pings like Slack, sends
 * envelopes and resolves each one when the app acks it by `envelope_id` (Slack wants that within 3 s).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Ack {
  readonly envelope_id: string;
  readonly type: EnvelopeType;
  /** What the app put in its ack (empty object for a bare ack()). */
  readonly payload: Record<string, unknown>;
  readonly ms: number;
}

interface Pending {
  readonly type: EnvelopeType;
  readonly sentAt: number;
  readonly resolve: (ack: Ack) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class FakeSocketMode {
  readonly acks: Ack[] = [];
  readonly tickets = new Set<string>();
  connections = 0;
  #wss = new WebSocketServer({ noServer: true });
  #socket: WebSocket | undefined;
  #pending = new Map<string, Pending>();
  #waiters: Array<() => void> = [];
  #ping: NodeJS.Timeout | undefined;

  /** A fresh ws:// URL as `apps.connections.open` returns it. */
  issueUrl(origin: string): string {
    const ticket = randomUUID();
    this.tickets.add(ticket);
    return `${origin.replace(/^http/, 'ws')}/link/?ticket=${ticket}&app_id=A0STILL`;
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ticket = new URL(req.url ?? '/', 'http://x').searchParams.get('ticket') ?? '';
    if (!this.tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
      return;
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#onConnection(ws));
  }

  #onConnection(ws: WebSocket): void {
    this.connections += 1;
    this.#socket = ws;
    ws.on('message', (data) => this.#onMessage(String(data)));
    ws.on('close', () => {
      if (this.#socket === ws) this.#socket = undefined;
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'fake-slack', approximate_connection_time: 18060 },
        connection_info: { app_id: 'A0STILL' },
      }),
    );
    // Slack pings every few seconds; the client drops a link that stays silent for 30 s.
    clearInterval(this.#ping);
    this.#ping = setInterval(() => ws.readyState === WebSocket.OPEN && ws.ping('fake-slack'), 5_000);
    this.#ping.unref();
    for (const w of this.#waiters.splice(0)) w();
  }

  #onMessage(text: string): void {
    const msg = JSON.parse(text) as { envelope_id?: string; payload?: Record<string, unknown> };
    if (!msg.envelope_id) return;
    const pending = this.#pending.get(msg.envelope_id);
    if (!pending) return;
    this.#pending.delete(msg.envelope_id);
    clearTimeout(pending.timer);
    const ack: Ack = {
      envelope_id: msg.envelope_id,
      type: pending.type,
      payload: msg.payload ?? {},
      ms: Date.now() - pending.sentAt,
    };
    this.acks.push(ack);
    pending.resolve(ack);
  }

  /** Resolves once an app holds an open socket (after `hello`). */
  async connected(timeoutMs = 10_000): Promise<void> {
    if (this.#socket?.readyState === WebSocket.OPEN) return;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no Socket Mode connection')), timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Sends one envelope and resolves with the ack; rejects when none comes within `ackMs`. */
  send(type: EnvelopeType, payload: Record<string, unknown>, ackMs = 3_000): Promise<Ack> {
    const ws = this.#socket;
    if (!ws || ws.readyState !== WebSocket.OPEN)
      return Promise.reject(new Error('no Socket Mode connection'));
    const envelope_id = randomUUID();
    const envelope = {
      envelope_id,
      type,
      payload,
      accepts_response_payload: type !== 'events_api',
      ...(type === 'events_api' ? { retry_attempt: 0, retry_reason: '' } : {}),
    };
    return new Promise<Ack>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(envelope_id);
        reject(new Error(`${type} envelope ${envelope_id} was not acked within ${ackMs} ms`));
      }, ackMs);
      this.#pending.set(envelope_id, { type, sentAt: Date.now(), resolve, reject, timer });
      ws.send(JSON.stringify(envelope));
    });
  }

  close(): void {
    clearInterval(this.#ping);
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    for (const client of this.#wss.clients) client.terminate();
    this.#wss.close();
  }
}
