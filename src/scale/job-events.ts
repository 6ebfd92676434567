/**
 * Relays job changes to whoever subscribed in this producer. Workers and producers publish
 * `<id> <kind>` on `<prefix>:events` after every change (state, progress, delivered); a state
 * change also moves the positions and ETAs of every waiting job. Changes are batched per tick and
 * read back once; after a reconnect every listener gets a fresh view, since messages sent while
 * the connection was down are lost (pub/sub is at-most-once; the stored state is the truth).
 *
 * Watched jobs are also re-read every `pollMs`, so a job whose record disappeared (Redis flushed,
 * or restarted without its AOF: no message says so) still ends its watchers: they get a final
 * `failed` view with `error_code: lost`, and their listeners are dropped.
 */
import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import { lostView } from '../service/job-view.ts';
import { type JobView, TERMINAL } from '../service/types.ts';

type Read = (ids: string[]) => Promise<(JobView | undefined)[]>;

export class JobEvents {
  readonly #emitter = new EventEmitter();
  readonly #pending = new Set<string>();
  readonly #sub: Redis;
  readonly #read: Read;
  readonly #log: Logger;
  readonly #last = new Map<string, JobView>();
  readonly #timer: NodeJS.Timeout;
  #flushing = false;

  /**
   * `read` answers the current view of each id, undefined where the record is gone (it may throw
   * while Redis is away); `placeholder` stands in for a job that vanished before it was ever read.
   */
  constructor(
    sub: Redis,
    channel: string,
    read: Read,
    log: Logger,
    placeholder: (id: string) => JobView,
    pollMs = 2000,
  ) {
    this.#sub = sub;
    this.#read = read;
    this.#log = log;
    this.#placeholder = placeholder;
    this.#emitter.setMaxListeners(0);
    sub.on('message', (_channel: string, message: string) => this.#onMessage(message));
    sub.on('ready', () => this.#scheduleAll());
    void sub.subscribe(channel).catch(() => {});
    this.#timer = setInterval(() => this.#scheduleAll(), pollMs);
    this.#timer.unref();
  }

  readonly #placeholder: (id: string) => JobView;

  subscribe(id: string, listener: (job: JobView) => void): () => void {
    this.#emitter.on(id, listener);
    this.#schedule(id);
    return () => {
      this.#emitter.off(id, listener);
      if (this.#emitter.listenerCount(id) === 0) this.#last.delete(id);
    };
  }

  /** Jobs watched now (for tests and metrics: nothing may leak). */
  get watched(): number {
    return this.#emitter.eventNames().length;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#emitter.removeAllListeners();
    this.#last.clear();
    this.#sub.disconnect();
  }

  #end(id: string): void {
    this.#emitter.removeAllListeners(id);
    this.#last.delete(id);
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
        const views = await this.#read(ids);
        ids.forEach((id, i) => {
          const view = views[i];
          if (!view) {
            const final = lostView(this.#last.get(id) ?? this.#placeholder(id));
            this.#log.warn({ job: id }, 'a watched job disappeared from Redis: watchers told it was lost');
            this.#emitter.emit(id, final);
            this.#end(id);
            return;
          }
          const before = this.#last.get(id);
          this.#last.set(id, view);
          // The poll re-reads unchanged jobs: only news goes out.
          if (!before || JSON.stringify(before) !== JSON.stringify(view)) this.#emitter.emit(id, view);
          // The contract ends with the job: drop listeners a caller forgot to remove.
          if (TERMINAL.has(view.state)) this.#end(id);
        });
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
