/**
 * The job as clients see it (`GET /v1/jobs/:id`): the stored job + live progress + queue place,
 * with an ETA from measured step times. Both services shape their views here; each gives a
 * {@link ViewContext} that says where its queue order, live progress and previews live.
 */
import type { AnimateOptions } from '@stillmotion/engine';
import { type EtaEstimator, etaSeconds, queuedEta } from './eta.ts';
import {
  type DeliveryTarget,
  type JobProgress,
  type JobState,
  type JobView,
  type QueueLimits,
  type QueueView,
  TERMINAL,
} from './types.ts';

export const EMPTY_PROGRESS: JobProgress = Object.freeze({ step: 0, steps: 0, chunk: 0, chunks: 0 });

/** What a running job has reported so far. */
export interface LiveProgress {
  progress: JobProgress;
  /** True after the last decode chunk, while the video is written. */
  encoding: boolean;
}

/** The live progress of a job that starts now. */
export function startProgress(options: AnimateOptions): LiveProgress {
  return { progress: { ...EMPTY_PROGRESS, steps: options.steps }, encoding: false };
}

export interface QueueOrder {
  /** Waiting job ids, in start order. */
  readonly queued: readonly string[];
  readonly running: readonly string[];
}

/** The queue as a store holds it now: its order, pause and caps. */
export interface QueueSnapshot extends QueueOrder {
  readonly paused: boolean;
  readonly limits: QueueLimits;
}

/** What every stored job carries, whichever store keeps it (the journal's row, Redis's hash). */
export interface ViewSource {
  readonly id: string;
  readonly user: string;
  readonly state: JobState;
  readonly options: AnimateOptions;
  readonly error?: string | null;
  readonly errorCode?: string | null;
  readonly delivery?: DeliveryTarget | null;
  readonly delivered: boolean;
  readonly createdAt: number;
  /** The result's format when stored apart from the options. */
  readonly format?: 'mp4' | 'gif';
}

/** Where the queue places, the live progress and the previews of one store's jobs come from. */
export interface ViewContext<J extends ViewSource> extends QueueOrder {
  readonly eta: EtaEstimator;
  /** Job slots (GPUs) that run jobs at once. */
  readonly slots: number;
  /** An open job by id (the ETAs count the jobs ahead); undefined when it is gone. */
  job(id: string): J | undefined;
  /** What a running job reported so far. */
  progress(job: J): JobProgress;
  /** Whether a running job is writing its video. */
  encoding(job: J): boolean;
  /** The step of the job's latest live preview; 0 before the first. */
  previewStep(job: J): number;
}

export function jobView<J extends ViewSource>(job: J, ctx: ViewContext<J>): JobView {
  const previewStep = ctx.previewStep(job);
  const running = job.state === 'running';
  return {
    id: job.id,
    user: job.user,
    state: job.state,
    position: job.state === 'queued' ? ctx.queued.indexOf(job.id) + 1 : 0,
    progress: running
      ? ctx.progress(job)
      : job.state === 'succeeded'
        ? { step: job.options.steps, steps: job.options.steps, chunk: 1, chunks: 1 }
        : EMPTY_PROGRESS,
    ...estimate(job, ctx),
    ...(job.error ? { error: job.error } : {}),
    ...(job.errorCode ? { error_code: job.errorCode } : {}),
    options: job.options,
    seed: job.options.seed,
    ...(job.delivery ? { delivery: job.delivery } : {}),
    delivered: job.delivered,
    created_at: job.createdAt,
    ...(running && ctx.encoding(job) ? { encoding: true } : {}),
    format: job.format ?? job.options.format,
    ...(previewStep ? { preview_step: previewStep } : {}),
  };
}

/** Seconds until the job is done (and, while queued, until it starts); 0 once ended; null before anything was measured. */
function estimate<J extends ViewSource>(
  job: J,
  ctx: ViewContext<J>,
): { eta_s: number | null; start_eta_s?: number | null } {
  if (TERMINAL.has(job.state)) return { eta_s: 0 };
  if (job.state === 'running') {
    const left = ctx.eta.remaining(job.options, ctx.progress(job));
    return { eta_s: left === undefined ? null : etaSeconds(left) };
  }
  const jobs = (ids: readonly string[]) => ids.flatMap((id) => ctx.job(id) ?? []);
  const e = queuedEta(
    ctx.eta,
    jobs(ctx.running).map((r) => ({ shape: r.options, progress: ctx.progress(r) })),
    jobs(ctx.queued.slice(0, Math.max(0, ctx.queued.indexOf(job.id)))).map((r) => r.options),
    job.options,
    ctx.slots,
  );
  return { eta_s: e?.done_s ?? null, start_eta_s: e?.start_s ?? null };
}

/** The admin view of the queue: each running and waiting job in order (jobs gone meanwhile are left out). */
export function queueView(snap: QueueSnapshot, view: (id: string) => JobView | undefined): QueueView {
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
