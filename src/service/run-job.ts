/**
 * The run of one job, the same in the in-process service and on a redis-mode worker: the engine
 * call, its progress (steps, decode chunks, encoding) and previews, the cancel, the failure's
 * reason for users, the metrics and the job's log lines. Where the outcome is written (the
 * journal, or Redis fenced by the attempt) is the {@link RunSink}'s business.
 */
import { rm } from 'node:fs/promises';
import type { AnimateOptions, ProgressEvent } from '@stillmotion/engine';
import type { Logger } from '../log.ts';
import type { AnimateRun, EnginePort, ImageLimits } from './engine-port.ts';
import { describeFailure } from './failure.ts';
import { JobAbort } from './job-lifecycle.ts';
import type { LiveProgress } from './job-view.ts';
import type { ServiceMetrics } from './metrics.ts';

export interface RunJob {
  readonly id: string;
  readonly engine: EnginePort;
  readonly options: AnimateOptions;
  /** The input picture (throws an EngineError `input_missing` when it is lost). */
  readonly image: () => Buffer | Promise<Buffer>;
  /** Where the engine writes the video; removed when the run does not succeed. */
  readonly outPath: string;
  /** Aborted with a {@link JobAbort} to stop the run early. */
  readonly signal: AbortSignal;
  readonly limits?: ImageLimits;
  /** Updated in place as the engine reports (see `startProgress`). */
  readonly live: LiveProgress;
  /** The job's logger (it names the job). */
  readonly log: Logger;
  /** Fields of the job's start and end lines (who asked, what for). */
  readonly line?: Readonly<Record<string, unknown>>;
  /** More fields of the start line (the attempt, the wait). */
  readonly startLine?: Readonly<Record<string, unknown>>;
  readonly metrics?: ServiceMetrics;
}

/** Where a run's changes and its outcome are kept. */
export interface RunSink {
  /** The live progress changed (a step, a decode chunk, the encoder started). */
  progress(live: LiveProgress, event: ProgressEvent): void;
  preview(step: number, data: Buffer): void;
  /** Resolves once the progress and previews handed over so far have landed. */
  settle?(): Promise<void>;
  /**
   * Stores the video; answers its bytes, or undefined when the store refused it. A throw (e.g. an
   * EngineError `store_full`: no room for the result) fails the job like an engine error.
   */
  succeeded(
    out: AnimateRun,
    run: { readonly ms: number; readonly stepMs: readonly number[] },
  ): Promise<number | undefined>;
  /** Puts the job back in the queue, its try not used (the service or worker stops). */
  putBack(): Promise<void>;
  canceled(): Promise<void>;
  failed(message: string, code: string): Promise<void>;
}

/** How the run ended: `unrecorded` when the store refused a finished result, `lost` when the job was no longer this runner's. */
export type RunOutcome = 'succeeded' | 'unrecorded' | 'put_back' | 'canceled' | 'failed' | 'lost';

/** Runs the job to its end and records the outcome through `sink`; throws only what the sink throws while ending it. */
export async function runJob(job: RunJob, sink: RunSink): Promise<RunOutcome> {
  const started = performance.now();
  const stepMs: number[] = [];
  job.log.info({ ...job.line, ...job.startLine }, 'job started');
  try {
    const image = await job.image();
    const out = await job.engine.animate(image, job.options, {
      outPath: job.outPath,
      signal: job.signal,
      onProgress: (e) => track(job, e, stepMs, sink),
      onPreview: (p) => sink.preview(p.step, p.data),
      limits: job.limits,
    });
    if (sink.settle) await sink.settle();
    const ms = performance.now() - started;
    const bytes = await sink.succeeded(out, { ms, stepMs });
    if (bytes === undefined) return 'unrecorded';
    job.metrics?.jobDuration.observe({ outcome: 'succeeded' }, ms / 1000);
    job.log.info({ ...job.line, seconds: seconds(started), bytes }, 'job succeeded');
    return 'succeeded';
  } catch (err) {
    // The writes handed over so far may bring a cancel, or the news that the job is lost.
    if (sink.settle) await sink.settle();
    const reason: unknown = job.signal.aborted ? job.signal.reason : undefined;
    await rm(job.outPath, { force: true });
    return end(job, err, reason, started, sink);
  }
}

function track(job: RunJob, e: ProgressEvent, stepMs: number[], sink: RunSink): void {
  const live = job.live;
  if (e.stage === 'denoise') {
    live.progress = { ...live.progress, step: e.step, steps: e.steps };
    stepMs.push(e.stepMs);
    job.metrics?.stepDuration.observe(e.stepMs / 1000);
  } else if (e.stage === 'decode') {
    live.progress = { ...live.progress, chunk: e.chunk, chunks: e.chunks };
  } else {
    live.encoding = true;
  }
  sink.progress(live, e);
}

/** The run stopped early (`reason`: the signal's abort reason) or failed: put back, lost, canceled, or failed with a reason for users. */
async function end(
  job: RunJob,
  err: unknown,
  reason: unknown,
  started: number,
  sink: RunSink,
): Promise<RunOutcome> {
  const took = () => (performance.now() - started) / 1000;
  if (reason instanceof JobAbort && reason.why === 'shutdown') {
    await sink.putBack();
    return 'put_back';
  }
  if (reason instanceof JobAbort && reason.why === 'lost') {
    job.log.warn(`stopped here: ${reason.message}`);
    return 'lost';
  }
  if (reason instanceof JobAbort) {
    await sink.canceled();
    job.metrics?.jobDuration.observe({ outcome: 'canceled' }, took());
    job.log.info({ ...job.line, seconds: seconds(started) }, 'job canceled while running');
    return 'canceled';
  }
  const { message, code } = describeFailure(err, job.id);
  await sink.failed(message, code);
  job.metrics?.failures.inc({ reason: code });
  job.metrics?.jobDuration.observe({ outcome: 'failed' }, took());
  job.log.error({ ...job.line, seconds: seconds(started), err, code }, 'job failed');
  return 'failed';
}

/** Seconds since `started`, to the millisecond (the log lines). */
function seconds(started: number): number {
  return Math.round(performance.now() - started) / 1000;
}
