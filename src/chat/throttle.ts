/**
 * Rate limit for progress edits: at most one send per interval (1.5 s by default) per job, only
 * the latest value is kept, sends never overlap, identical values are skipped, and the final value
 * is always delivered.
 */

export interface ThrottleOptions {
  /** Minimum time between the start of two sends. @default 1500 */
  readonly intervalMs?: number;
  /** Called when an intermediate send throws; the throttle goes on. A failing final send rejects final(). */
  readonly onError?: (err: unknown) => void;
}

export interface ThrottleStats {
  /** Values actually sent. */
  readonly sent: number;
  /** Values replaced by a newer one before they were sent, or equal to the last sent. */
  readonly skipped: number;
  /** Start times (ms since epoch) of every send, for rate checks. */
  readonly sendTimes: readonly number[];
}

export class ProgressThrottle<T> {
  readonly #send: (value: T) => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #onError: (err: unknown) => void;
  #pending: { value: T } | undefined;
  #last: T | undefined;
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #inflight: Promise<void> = Promise.resolve();
  #closed = false;
  #sent = 0;
  #skipped = 0;
  readonly #sendTimes: number[] = [];

  constructor(send: (value: T) => Promise<unknown>, options: ThrottleOptions = {}) {
    this.#send = send;
    this.#intervalMs = options.intervalMs ?? 1500;
    this.#onError = options.onError ?? (() => {});
  }

  get stats(): ThrottleStats {
    return { sent: this.#sent, skipped: this.#skipped, sendTimes: [...this.#sendTimes] };
  }

  /** Queues a value; it is sent now if the interval has passed, else when it does (unless replaced). */
  update(value: T): void {
    if (this.#closed) return;
    if (this.#pending) this.#skipped++;
    this.#pending = { value };
    this.#schedule();
  }

  /** Drops any pending value, waits for a send in flight, then sends `value` (unless already shown). */
  async final(value: T): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending) this.#skipped++;
    this.#pending = undefined;
    await this.#inflight;
    if (this.#last === value) {
      this.#skipped++;
      return;
    }
    const wait = this.#lastAt + this.#intervalMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await this.#deliver(value, true);
  }

  /** Stops without sending anything more. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending = undefined;
  }

  #schedule(): void {
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastAt + this.#intervalMs - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const next = this.#pending;
      this.#pending = undefined;
      if (!next || this.#closed) return;
      this.#inflight = this.#inflight.then(() => this.#deliver(next.value, false));
    }, wait);
    this.#timer.unref?.();
  }

  async #deliver(value: T, rethrow: boolean): Promise<void> {
    if (this.#last === value) {
      this.#skipped++;
      return;
    }
    this.#lastAt = Date.now();
    this.#sendTimes.push(this.#lastAt);
    this.#sent++;
    try {
      await this.#send(value);
      this.#last = value;
    } catch (err) {
      if (rethrow) throw err;
      this.#onError(err);
    }
    // A value that arrived while this send was in flight waits for the next slot.
    if (this.#pending && !this.#closed) this.#schedule();
  }
}
