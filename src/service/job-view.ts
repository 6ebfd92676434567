/**
 * The job as clients see it (`GET /v1/jobs/:id`): journal record + live progress + queue place,
 * with an ETA from measured step times.
 */
import { type EtaEstimator, etaSeconds, queuedEta } from './eta.ts';
import type { JobRecord, Journal } from './journal.ts';
import { type JobProgress, type JobView, type QueueLimits, type QueueView, TERMINAL } from './types.ts';

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

  readonly #previewStep: (id: string) => number;

  constructor(
    journal: Journal,
    eta: EtaEstimator,
    live: ReadonlyMap<string, LiveProgress>,
    slots: number,
    previewStep: (id: string) => number = () => 0,
  ) {
    this.#journal = journal;
    this.#eta = eta;
    this.#live = live;
    this.#slots = slots;
    this.#previewStep = previewStep;
  }

  view(rec: JobRecord, order: QueueOrder): JobView {
    const live = this.#live.get(rec.id);
    const previewStep = this.#previewStep(rec.id);
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
      ...this.#estimate(rec, live, order),
      ...(rec.error ? { error: rec.error } : {}),
      ...(rec.errorCode ? { error_code: rec.errorCode } : {}),
      options: rec.options,
      seed: rec.options.seed,
      ...(rec.delivery ? { delivery: rec.delivery } : {}),
      delivered: rec.delivered,
      created_at: rec.createdAt,
      ...(live?.encoding ? { encoding: true } : {}),
      format: rec.options.format,
      ...(previewStep ? { preview_step: previewStep } : {}),
    };
  }

  /** Seconds until the job is done (and, while queued, until it starts); 0 once ended; null before anything was measured. */
  #estimate(
    rec: JobRecord,
    live: LiveProgress | undefined,
    order: QueueOrder,
  ): { eta_s: number | null; start_eta_s?: number | null } {
    if (TERMINAL.has(rec.state)) return { eta_s: 0 };
    if (rec.state === 'running') {
      const left = this.#eta.remaining(rec.options, live?.progress ?? EMPTY_PROGRESS);
      return { eta_s: left === undefined ? null : etaSeconds(left) };
    }
    const records = (ids: readonly string[]) => ids.flatMap((id) => this.#journal.get(id) ?? []);
    const estimate = queuedEta(
      this.#eta,
      records(order.running).map((r) => ({
        shape: r.options,
        progress: this.#live.get(r.id)?.progress ?? EMPTY_PROGRESS,
      })),
      records(order.queued.slice(0, Math.max(0, order.queued.indexOf(rec.id)))).map((r) => r.options),
      rec.options,
      this.#slots,
    );
    return { eta_s: estimate?.done_s ?? null, start_eta_s: estimate?.start_s ?? null };
  }
}

/** The admin view of the queue: each running and waiting job in order (jobs gone meanwhile are left out). */
export function queueView(
  snap: QueueOrder & { readonly paused: boolean; readonly limits: QueueLimits },
  view: (id: string) => JobView | undefined,
): QueueView {
  const views = (ids: readonly string[]) => ids.flatMap((id) => view(id) ?? []);
  return {
    paused: snap.paused,
    limits: snap.limits,
    running: views(snap.running),
    queued: views(snap.queued),
  };
}

export const LOST_MESSAGE =
  'the job was lost: the queue no longer has it (its store was flushed or restarted without its data); please submit it again';

/** The final view of a job whose record disappeared while someone watched it: failed, `lost`. */
export function lostView(last: JobView): JobView {
  const { start_eta_s: _s, encoding: _e, ...rest } = last;
  return { ...rest, state: 'failed', position: 0, eta_s: 0, error: LOST_MESSAGE, error_code: 'lost' };
}
