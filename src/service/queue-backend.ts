/**
 * The queue seam. The job service keeps the journal, the engine and the events; a backend only
 * decides which job starts when, under the caps, and carries cancellation to the running job.
 * {@link LocalBackend} is the embedded single-process one; the scale-out issue puts BullMQ on
 * Redis behind this same interface.
 */
import type { QueueLimits } from './types.ts';

export interface BackendJob {
  readonly id: string;
  readonly user: string;
}

/** Why a running job's signal was aborted: the owner/admin canceled it, or the service is stopping. */
export type AbortCause = 'canceled' | 'shutdown';

export class JobAbort extends Error {
  override name = 'JobAbort';
  readonly why: AbortCause;
  constructor(why: AbortCause) {
    super(why === 'canceled' ? 'canceled' : 'the service is shutting down');
    this.why = why;
  }
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

export interface QueueSnapshot {
  readonly paused: boolean;
  readonly limits: QueueLimits;
  /** Waiting job ids, in start order. */
  readonly queued: readonly string[];
  readonly running: readonly string[];
}

export interface QueueBackend<J extends BackendJob> {
  /** Admits a job under the caps (ServiceError 429 naming the cap otherwise); answers its 1-based position. */
  enqueue(job: J, options?: EnqueueOptions): Promise<{ position: number }>;
  /** Throws what {@link enqueue} would throw for a new job of `user` under the caps; admits nothing. */
  checkCaps(user: string): Promise<void>;
  /** Removes a waiting job or aborts a running one with JobAbort('canceled'). */
  cancel(id: string): Promise<'queued' | 'running' | 'unknown'>;
  /** 1-based place in the queue, 0 when not waiting. */
  position(id: string): Promise<number>;
  snapshot(): Promise<QueueSnapshot>;
  /** Stops new starts; running jobs finish. Waiting jobs stay and new ones are still accepted. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Removes every waiting job; answers their ids. */
  clear(): Promise<string[]>;
  setLimits(limits: Partial<QueueLimits>): Promise<QueueLimits>;
  /** Starts taking jobs with this processor. */
  start(processor: Processor<J>): void;
  /** Stops starting jobs, aborts the running ones with JobAbort('shutdown') and waits for them to end. */
  stop(): Promise<void>;
}
