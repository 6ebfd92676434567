/**
 * The job as clients see it (`GET /v1/jobs/:id`): journal record + live progress + queue place,
 * with an ETA from measured step times.
 */
import type { EtaEstimator } from './eta.ts';
import type { JobRecord, Journal } from './journal.ts';
import type { JobProgress, JobView } from './types.ts';

export const TERMINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'canceled']);
export const EMPTY_PROGRESS: JobProgress = Object.freeze({ step: 0, steps: 0, chunk: 0, chunks: 0 });

/** What a running job has reported so far. */
export interface LiveProgress {
  progress: JobProgress;
  /** True after the last decode chunk, while the video is written. */
  encoding: boolean;
}

export interface QueueOrder {
  readonly queued: readonly string[];
  readonly running: readonly string[];
}

export class JobViews {
  readonly #journal: Journal;
  readonly #eta: EtaEstimator;
  readonly #live: ReadonlyMap<string, LiveProgress>;
  readonly #slots: number;

  constructor(journal: Journal, eta: EtaEstimator, live: ReadonlyMap<string, LiveProgress>, slots: number) {
    this.#journal = journal;
    this.#eta = eta;
    this.#live = live;
    this.#slots = slots;
  }

  view(rec: JobRecord, order: QueueOrder): JobView {
    const live = this.#live.get(rec.id);
    return {
      id: rec.id,
      user: rec.user,
      state: rec.state,
      position: rec.state === 'queued' ? order.queued.indexOf(rec.id) + 1 : 0,
      progress:
        live?.progress ??
        (rec.state === 'succeeded'
          ? { step: rec.options.steps, steps: rec.options.steps, chunk: 1, chunks: 1 }
          : EMPTY_PROGRESS),
      eta_s: this.#etaSeconds(rec, live, order),
      ...(rec.error ? { error: rec.error } : {}),
      ...(rec.errorCode ? { error_code: rec.errorCode } : {}),
      options: rec.options,
      seed: rec.options.seed,
      ...(rec.delivery ? { delivery: rec.delivery } : {}),
      delivered: rec.delivered,
      created_at: rec.createdAt,
      ...(live?.encoding ? { encoding: true } : {}),
      format: rec.options.format,
    };
  }

  /** Seconds until the job is done; 0 once ended; null before anything was measured. */
  #etaSeconds(rec: JobRecord, live: LiveProgress | undefined, order: QueueOrder): number | null {
    if (TERMINAL.has(rec.state)) return 0;
    if (rec.state === 'running') {
      const left = this.#eta.remaining(rec.options, live?.progress ?? EMPTY_PROGRESS);
      return left === undefined ? null : Math.ceil(left / 1000);
    }
    // Queued: the work left on the running jobs and the jobs ahead, shared over the slots, then its own.
    let ahead = 0;
    for (const id of order.running) {
      const r = this.#journal.get(id);
      if (!r) continue;
      const left = this.#eta.remaining(r.options, this.#live.get(id)?.progress ?? EMPTY_PROGRESS);
      if (left === undefined) return null;
      ahead += left;
    }
    for (const id of order.queued) {
      if (id === rec.id) break;
      const r = this.#journal.get(id);
      if (!r) continue;
      const t = this.#eta.predict(r.options);
      if (t === undefined) return null;
      ahead += t;
    }
    const own = this.#eta.predict(rec.options);
    if (own === undefined) return null;
    return Math.ceil((ahead / this.#slots + own) / 1000);
  }
}
