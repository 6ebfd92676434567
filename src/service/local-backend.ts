/**
 * The embedded queue backend: a {@link FairQueue} decides the order, p-queue limits how many
 * jobs run at once (one per GPU by default; never exceeded). Jobs are handed to p-queue only
 * when a slot is free, so p-queue's own FIFO never reorders the round-robin.
 */
import PQueue from 'p-queue';
import { refuse, shuttingDown } from './errors.ts';
import { FairQueue } from './fair-queue.ts';
import {
  type BackendJob,
  type EnqueueOptions,
  JobAbort,
  type Processor,
  type QueueBackend,
  type QueueSnapshot,
} from './queue-backend.ts';
import type { QueueLimits } from './types.ts';

export interface LocalBackendOptions {
  readonly concurrency: number;
  readonly limits: QueueLimits;
  readonly paused?: boolean;
  /** Called when a processor throws (the processor should record failures itself). */
  readonly onError?: (job: BackendJob, err: unknown) => void;
}

export class LocalBackend<J extends BackendJob> implements QueueBackend<J> {
  readonly #fair = new FairQueue<J>();
  readonly #limiter: PQueue;
  readonly #running = new Map<string, { job: J; abort: AbortController }>();
  readonly #onError: LocalBackendOptions['onError'];
  #limits: QueueLimits;
  #paused: boolean;
  #stopping = false;
  #processor: Processor<J> | undefined;

  constructor(options: LocalBackendOptions) {
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1) {
      throw new TypeError(`concurrency must be a whole number ≥ 1 (got ${options.concurrency})`);
    }
    this.#limiter = new PQueue({ concurrency: options.concurrency });
    this.#limits = { ...options.limits };
    this.#paused = options.paused ?? false;
    this.#onError = options.onError;
  }

  get concurrency(): number {
    return this.#limiter.concurrency;
  }

  async enqueue(job: J, options: EnqueueOptions = {}): Promise<{ position: number }> {
    if (this.#stopping) throw shuttingDown();
    if (!options.bypassCaps) this.#fair.checkCaps(job.user, this.#limits);
    this.#fair.push(job, options.front);
    const position = this.#fair.position(job.id);
    queueMicrotask(() => this.#pump());
    return { position };
  }

  async checkCaps(user: string): Promise<void> {
    if (this.#stopping) throw shuttingDown();
    this.#fair.checkCaps(user, this.#limits);
  }

  async cancel(id: string): Promise<'queued' | 'running' | 'unknown'> {
    if (this.#fair.remove(id)) return 'queued';
    const run = this.#running.get(id);
    if (run) {
      run.abort.abort(new JobAbort('canceled'));
      return 'running';
    }
    return 'unknown';
  }

  async position(id: string): Promise<number> {
    return this.#fair.position(id);
  }

  /** Synchronous position, for callers that compute many views at once. */
  positionNow(id: string): number {
    return this.#fair.position(id);
  }

  queuedNow(): string[] {
    return this.#fair.ordered().map((j) => j.id);
  }

  async snapshot(): Promise<QueueSnapshot> {
    return {
      paused: this.#paused,
      limits: { ...this.#limits },
      queued: this.queuedNow(),
      running: [...this.#running.keys()],
    };
  }

  async pause(): Promise<void> {
    this.#paused = true;
  }

  async resume(): Promise<void> {
    this.#paused = false;
    this.#pump();
  }

  get paused(): boolean {
    return this.#paused;
  }

  async clear(): Promise<string[]> {
    return this.#fair.drain().map((j) => j.id);
  }

  async setLimits(limits: Partial<QueueLimits>): Promise<QueueLimits> {
    for (const [name, value] of Object.entries(limits)) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw refuse('bad_limit', `${name} must be a whole number ≥ 1 (got ${value})`, {
          option: name,
        });
      }
    }
    this.#limits = {
      per_user: limits.per_user ?? this.#limits.per_user,
      max_queued: limits.max_queued ?? this.#limits.max_queued,
    };
    return { ...this.#limits };
  }

  start(processor: Processor<J>): void {
    this.#processor = processor;
    this.#pump();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    for (const run of this.#running.values()) run.abort.abort(new JobAbort('shutdown'));
    await this.#limiter.onIdle();
  }

  /** Hands waiting jobs to the limiter while it has a free slot. */
  #pump(): void {
    const processor = this.#processor;
    if (!processor || this.#paused || this.#stopping) return;
    while (this.#running.size < this.#limiter.concurrency && this.#fair.size > 0) {
      const job = this.#fair.shift()!;
      const abort = new AbortController();
      this.#running.set(job.id, { job, abort });
      void this.#limiter
        .add(() => processor(job, { signal: abort.signal }))
        .catch((err: unknown) => this.#onError?.(job, err))
        .finally(() => {
          this.#running.delete(job.id);
          this.#fair.finish(job.user, job.id);
          this.#pump();
        });
    }
  }
}
