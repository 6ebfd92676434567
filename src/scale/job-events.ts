/**
 * Relays job changes to whoever subscribed in this producer. Workers and producers publish
 * `<id> <kind>` on `<prefix>:events` after every change (state, progress, delivered); a state
 * change also moves the positions and ETAs of every waiting job. Changes are batched per tick and
 * read back once; after a reconnect every listener gets a fresh view, since messages sent while
 * the connection was down are lost (pub/sub is at-most-once; the stored state is the truth).
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { JobView } from '../service/types.ts';

const TERMINAL = new Set(['succeeded', 'failed', 'canceled']);

export class JobEvents {
  readonly #emitter = new EventEmitter();
  readonly #pending = new Set<string>();
  readonly #sub: Redis;
  readonly #read: (ids: string[]) => Promise<JobView[]>;
  readonly #log: Logger;
  #flushing = false;

  /** `read` answers the current views of the ids that still exist (it may throw while Redis is away). */
  constructor(sub: Redis, channel: string, read: (ids: string[]) => Promise<JobView[]>, log: Logger) {
    this.#sub = sub;
    this.#read = read;
    this.#log = log;
    this.#emitter.setMaxListeners(0);
    sub.on('message', (_channel: string, message: string) => this.#onMessage(message));
    sub.on('ready', () => this.#scheduleAll());
    void sub.subscribe(channel).catch(() => {});
  }

  subscribe(id: string, listener: (job: JobView) => void): () => void {
    this.#emitter.on(id, listener);
    return () => this.#emitter.off(id, listener);
  }

  close(): void {
    this.#emitter.removeAllListeners();
    this.#sub.disconnect();
  }

  #onMessage(message: string): void {
    const [id, kind] = message.split(' ');
    if (kind === 'state') this.#scheduleAll();
    else if (this.#emitter.listenerCount(id) > 0) this.#schedule(id);
  }

  #scheduleAll(): void {
    for (const name of this.#emitter.eventNames()) this.#schedule(String(name));
  }

  #schedule(id: string): void {
    this.#pending.add(id);
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    const ids = [...this.#pending].filter((id) => this.#emitter.listenerCount(id) > 0);
    this.#pending.clear();
    try {
      if (ids.length) {
        for (const view of await this.#read(ids)) {
          this.#emitter.emit(view.id, view);
          // The contract ends with the job: drop listeners a caller forgot to remove.
          if (TERMINAL.has(view.state)) this.#emitter.removeAllListeners(view.id);
        }
      }
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'could not refresh job events');
    } finally {
      this.#flushing = false;
      const next = this.#pending.values().next();
      if (!next.done) this.#schedule(next.value);
    }
  }
}
