/**
 * Rate limit for progress edits: at most one send per interval (1.5 s by default) per job,
 * counted from the end of the previous send so requests also arrive that far apart; only
 * the latest value is kept, sends never overlap, identical values are skipped, and the final value
 * is always delivered.
 */

export interface ThrottleOptions {
  /** Minimum time from the end of one send to the start of the next. @default 1500 */
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
  /** When the last send finished (ms since epoch); -Infinity before the first. */
  readonly lastEndedAt: number;
}

export class ProgressThrottle<T> {
  readonly #send: (value: T) => Promise<unknown>;
  readonly #intervalMs: number;
  readonly #onError: (err: unknown) => void;
  #pending: { value: T } | undefined;
  #last: { value: T } | undefined;
  #lastAt = Number.NEGATIVE_INFINITY;
  #loop: Promise<void> | undefined;
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
    return {
      sent: this.#sent,
      skipped: this.#skipped,
      sendTimes: [...this.#sendTimes],
      lastEndedAt: this.#lastAt,
    };
  }

  /** Queues a value; it is sent now if the interval has passed, else when it does (unless replaced). */
  update(value: T): void {
    if (this.#closed) return;
    if (this.#pending) this.#skipped++;
    this.#pending = { value };
    this.#loop ??= this.#run().finally(() => {
      this.#loop = undefined;
    });
  }

  /** Drops any pending value, waits for a send in flight, then sends `value` (unless already shown). */
  async final(value: T): Promise<void> {
    this.close();
    await this.#loop;
    if (this.#last && this.#last.value === value) {
      this.#skipped++;
      return;
    }
    await this.#spacing();
    await this.#deliver(value);
  }

  /** Stops without sending anything more, and resolves once a send in flight has finished. */
  async stop(): Promise<void> {
    this.close();
    await this.#loop;
  }

  /** Stops without sending anything more (a send in flight completes). */
  close(): void {
    this.#closed = true;
    if (this.#pending) this.#skipped++;
    this.#pending = undefined;
  }

  /** Waits until one interval has passed since the last send finished. */
  async #spacing(): Promise<void> {
    const wait = this.#lastAt + this.#intervalMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }

  async #run(): Promise<void> {
    while (this.#pending && !this.#closed) {
      await this.#spacing();
      const next = this.#pending;
      this.#pending = undefined;
      if (!next || this.#closed) return;
      if (this.#last && this.#last.value === next.value) {
        this.#skipped++;
        continue;
      }
      try {
        await this.#deliver(next.value);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  async #deliver(value: T): Promise<void> {
    this.#sendTimes.push(Date.now());
    this.#sent++;
    try {
      await this.#send(value);
      this.#last = { value };
    } finally {
      // Counted from the end of a send, so that requests also arrive at least one interval apart.
      this.#lastAt = Date.now();
    }
  }
}
