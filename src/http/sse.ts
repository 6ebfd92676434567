/**
 * `GET /v1/jobs/:id/events`: Server-Sent Events with the job view on every change (`event: job`),
 * ending after the job ends or at the stream's maximum lifetime (clients reconnect), and
 * `event: preview` with `{"step": N}` whenever a newer live preview is at `GET /v1/jobs/:id/preview`.
 * A comment line every 15 s keeps proxies from closing an idle stream. Streams are capped per caller
 * and in total.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { refuse } from '../service/errors.ts';
import { type Following, followJob } from '../service/follow-job.ts';
import { type JobService, type JobView, TERMINAL } from '../service/types.ts';

export interface StreamLimits {
  /** Open streams per caller (an anonymous identity, or a token). */
  readonly perCaller: number;
  readonly total: number;
  /** A stream ends after this long; the client reconnects. */
  readonly maxMs: number;
}

/** Token holders (the bots) follow every job of many users, so they get a larger share. */
export const DEFAULT_STREAM_LIMITS: StreamLimits = { perCaller: 16, total: 512, maxMs: 30 * 60_000 };
const TOKEN_SHARE = 16;

export class StreamCaps {
  readonly #limits: StreamLimits;
  readonly #open = new Map<string, number>();
  #total = 0;

  constructor(limits: Partial<StreamLimits> = {}) {
    this.#limits = { ...DEFAULT_STREAM_LIMITS, ...limits };
  }

  get maxMs(): number {
    return this.#limits.maxMs;
  }

  /** Counts a new stream of `caller` or refuses it with 429; answers its release. */
  open(caller: string): () => void {
    const mine = this.#open.get(caller) ?? 0;
    const cap = caller.startsWith('token:') ? this.#limits.perCaller * TOKEN_SHARE : this.#limits.perCaller;
    if (this.#total >= this.#limits.total) {
      throw refuse('too_many_streams', 'too many event streams are open; try again shortly');
    }
    if (mine >= cap) {
      throw refuse('too_many_streams', `you have ${mine} event streams open (limit ${cap})`);
    }
    this.#open.set(caller, mine + 1);
    this.#total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#total--;
      const left = (this.#open.get(caller) ?? 1) - 1;
      if (left > 0) this.#open.set(caller, left);
      else this.#open.delete(caller);
    };
  }
}

export async function streamJob(
  service: JobService,
  id: string,
  req: FastifyRequest,
  reply: FastifyReply,
  first: JobView,
  life: { readonly maxMs: number; readonly onEnd: () => void },
): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let last = '';
  let previewStep = 0;
  let done = false;
  const send = (view: JobView) => {
    if (done) return;
    const text = JSON.stringify(view);
    if (text === last) return;
    last = text;
    res.write(`event: job\ndata: ${text}\n\n`);
    if ((view.preview_step ?? 0) > previewStep) {
      previewStep = view.preview_step!;
      res.write(`event: preview\ndata: ${JSON.stringify({ step: previewStep })}\n\n`);
    }
    if (TERMINAL.has(view.state)) finish();
  };
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
  const lifetime = setTimeout(finish, life.maxMs);
  let following: Following | undefined;
  function finish(): void {
    if (done) return;
    done = true;
    clearInterval(heartbeat);
    clearTimeout(lifetime);
    following?.stop();
    life.onEnd();
    res.end();
  }
  following = followJob(service, id, send);
  req.raw.on('close', finish);
  // The state may have moved between the caller's read and the subscription: the current view
  // (read after subscribing) follows the caller's.
  send(first);
  await following.current;
}
