/**
 * How the in-process service hands out work: a {@link FairQueue} decides the order, p-queue
 * limits how many jobs run at once (one per GPU by default; never exceeded). Jobs are handed to
 * p-queue only when a slot is free, so p-queue's own FIFO never reorders the round-robin. The
 * service keeps the journal, the engine and the events; this only decides which job starts
 * when, under the caps, and carries cancellation to the running job. (Redis mode hands work out
 * through BullMQ instead: src/scale.)
 */
import PQueue from 'p-queue';
import { shuttingDown } from './errors.ts';
import { FairQueue } from './fair-queue.ts';
import { JobAbort } from './job-lifecycle.ts';
import type { QueueSnapshot } from './job-view.ts';
import { checkLimits } from './submit-checks.ts';
import type { QueueLimits } from './types.ts';

export interface BackendJob {
  readonly id: string;
  readonly user: string;
}

/** Runs one job. It must end soon after `signal` aborts (reason: a {@link JobAbort}). */
export type Processor<J extends BackendJob> = (
  job: J,
  ctx: { readonly signal: AbortSignal },
) => Promise<void>;

export interface EnqueueOptions {
  /** Skip the caps: for jobs already accepted before a restart. */
  readonly bypassCaps?: boolean;
  /** Start this job before the others (a job put back after a stop). */
  readonly front?: boolean;
}

export interface LocalBackendOptions {
  readonly concurrency: number;
  readonly limits: QueueLimits;
  readonly paused?: boolean;
  /** Called when a processor throws (the processor should record failures itself). */
  readonly onError?: (job: BackendJob, err: unknown) => void;
}

export class LocalBackend<J extends BackendJob> {
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

  /** Admits a job under the caps (ServiceError 429 naming the cap otherwise); answers its 1-based position. */
  async enqueue(job: J, options: EnqueueOptions = {}): Promise<{ position: number }> {
    if (this.#stopping) throw shuttingDown();
    if (!options.bypassCaps) this.#fair.checkCaps(job.user, this.#limits);
    this.#fair.push(job, options.front);
    const position = this.#fair.position(job.id);
    queueMicrotask(() => this.#pump());
    return { position };
  }

  /** Throws what {@link enqueue} would throw for a new job of `user` under the caps; admits nothing. */
  async checkCaps(user: string): Promise<void> {
    if (this.#stopping) throw shuttingDown();
    this.#fair.checkCaps(user, this.#limits);
  }

  /** Removes a waiting job or aborts a running one with JobAbort('canceled'). */
  async cancel(id: string): Promise<'queued' | 'running' | 'unknown'> {
    if (this.#fair.remove(id)) return 'queued';
    const run = this.#running.get(id);
    if (run) {
      run.abort.abort(new JobAbort('canceled'));
      return 'running';
    }
    return 'unknown';
  }

  /** 1-based place in the queue, 0 when not waiting. */
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

  /** Stops new starts; running jobs finish. Waiting jobs stay and new ones are still accepted. */
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

  /** Removes every waiting job; answers their ids. */
  async clear(): Promise<string[]> {
    return this.#fair.drain().map((j) => j.id);
  }

  async setLimits(limits: Partial<QueueLimits>): Promise<QueueLimits> {
    checkLimits(limits);
    this.#limits = {
      per_user: limits.per_user ?? this.#limits.per_user,
      max_queued: limits.max_queued ?? this.#limits.max_queued,
    };
    return { ...this.#limits };
  }

  /** Starts taking jobs with this processor. */
  start(processor: Processor<J>): void {
    this.#processor = processor;
    this.#pump();
  }

  /** Stops starting jobs, aborts the running ones with JobAbort('shutdown') and waits for them to end. */
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
