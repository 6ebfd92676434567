/**
 * Run-time estimates from step times measured on this machine. A job's cost is modelled as
 * frames × (steps × per-step-frame time + per-frame overhead), each an exponential moving average
 * of what earlier jobs (and the warm-up) took.
 */
export interface JobShape {
  readonly frames: number;
  readonly steps: number;
}

export interface RunningProgress {
  readonly step: number;
  readonly steps: number;
  readonly chunk: number;
  readonly chunks: number;
}

const WEIGHT = 0.3;

/** Milliseconds as the seconds clients see, rounded up to a tenth (short jobs still order correctly). */
export function etaSeconds(ms: number): number {
  return Math.ceil(ms / 100) / 10;
}

export class EtaEstimator {
  #stepFrameMs: number | undefined;
  #overheadFrameMs: number | undefined;

  get known(): boolean {
    return this.#stepFrameMs !== undefined;
  }

  /** One denoising step of a job with `frames` frames took `stepMs`. */
  recordStep(stepMs: number, frames: number): void {
    const v = stepMs / frames;
    this.#stepFrameMs =
      this.#stepFrameMs === undefined ? v : this.#stepFrameMs + WEIGHT * (v - this.#stepFrameMs);
  }

  /** A whole job finished: everything but the denoising steps is overhead (preprocess, decode, video). */
  recordJob(totalMs: number, stepMsSum: number, frames: number): void {
    const v = Math.max(0, totalMs - stepMsSum) / frames;
    this.#overheadFrameMs =
      this.#overheadFrameMs === undefined ? v : this.#overheadFrameMs + WEIGHT * (v - this.#overheadFrameMs);
  }

  /** Milliseconds a whole job of this shape should take, or undefined before any measurement. */
  predict(job: JobShape): number | undefined {
    if (this.#stepFrameMs === undefined) return undefined;
    return job.frames * (job.steps * this.#stepFrameMs + (this.#overheadFrameMs ?? this.#stepFrameMs));
  }

  /** Milliseconds left for a running job at this progress. */
  remaining(job: JobShape, p: RunningProgress): number | undefined {
    if (this.#stepFrameMs === undefined) return undefined;
    const overhead = job.frames * (this.#overheadFrameMs ?? this.#stepFrameMs);
    const decodeDone = p.chunks > 0 ? p.chunk / p.chunks : 0;
    return (
      job.frames * Math.max(0, job.steps - p.step) * this.#stepFrameMs + overhead * (1 - decodeDone * 0.8)
    );
  }
}

/** Seconds until a queued job starts and until it is done, or null before anything was measured. */
export interface QueuedEta {
  readonly start_s: number;
  readonly done_s: number;
}

/**
 * A waiting job's estimate: the work left on the running jobs and on the jobs ahead of it, shared
 * over the slots that run jobs at once, then its own run.
 */
export function queuedEta(
  eta: EtaEstimator,
  running: readonly { readonly shape: JobShape; readonly progress: RunningProgress }[],
  ahead: readonly JobShape[],
  own: JobShape,
  slots: number,
): QueuedEta | null {
  if (slots <= 0) return null;
  let waitMs = 0;
  for (const r of running) {
    const left = eta.remaining(r.shape, r.progress);
    if (left === undefined) return null;
    waitMs += left;
  }
  for (const shape of ahead) {
    const t = eta.predict(shape);
    if (t === undefined) return null;
    waitMs += t;
  }
  const ownMs = eta.predict(own);
  if (ownMs === undefined) return null;
  const startMs = waitMs / slots;
  return { start_s: etaSeconds(startMs), done_s: etaSeconds(startMs + ownMs) };
}
