/**
 * Reads one consistent-enough picture of the shared queue (waiting order, running jobs, limits,
 * live workers, measured speeds) and turns stored jobs into the {@link JobView}s every client sees,
 * exactly as the in-process service shapes them.
 */
import { EtaEstimator, etaSeconds, queuedEta } from '../service/eta.ts';
import { type JobProgress, type JobView, type QueueLimits, TERMINAL } from '../service/types.ts';
import type { ScaleStore, StoredJob } from './store.ts';

/** What each worker writes into `<prefix>:workers` on every heartbeat. */
export interface WorkerBeat {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly concurrency: number;
  readonly running: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly canceled: number;
  readonly retried: number;
  readonly provider: string;
  readonly model: string;
  readonly device: string;
  readonly started: number;
  readonly seen: number;
}

export interface ScaleSnapshot {
  readonly paused: boolean;
  readonly limits: QueueLimits;
  /** Waiting job ids in start order. */
  readonly queued: readonly string[];
  readonly running: readonly string[];
  /** The waiting and running jobs, for ETAs. */
  readonly active: ReadonlyMap<string, StoredJob>;
  readonly eta: EtaEstimator;
  /** Workers seen within the liveness window. */
  readonly workers: readonly WorkerBeat[];
  /** Job slots of the live workers (0 when none is up). */
  readonly slots: number;
}

const EMPTY: JobProgress = { step: 0, steps: 0, chunk: 0, chunks: 0 };

/** Worker heartbeats older than this are not counted as live. */
export const WORKER_LIVE_MS = 15_000;

export function parseWorkers(raw: Record<string, string>, now = Date.now()): WorkerBeat[] {
  const out: WorkerBeat[] = [];
  for (const text of Object.values(raw)) {
    try {
      const beat = JSON.parse(text) as WorkerBeat;
      if (now - beat.seen <= WORKER_LIVE_MS) out.push(beat);
    } catch {
      // A malformed beat is skipped; its worker rewrites it on the next heartbeat.
    }
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** An estimator seeded with the speeds the workers measured (`<prefix>:eta`). */
function estimator(raw: Record<string, string>): EtaEstimator {
  const eta = new EtaEstimator();
  const step = Number(raw.step_frame_ms);
  const overhead = Number(raw.overhead_frame_ms);
  if (Number.isFinite(step) && step > 0) {
    eta.recordStep(step, 1);
    if (Number.isFinite(overhead) && overhead >= 0) eta.recordJob(overhead, 0, 1);
  }
  return eta;
}

export async function readSnapshot(store: ScaleStore, defaults: QueueLimits): Promise<ScaleSnapshot> {
  const r = store.redis;
  const [[e1, queued], [e2, running], [e3, settings], [e4, eta], [e5, workers]] = ((await r
    .pipeline()
    .zrange(store.key('queued'), 0, -1)
    .smembers(store.key('running'))
    .hgetall(store.key('settings'))
    .hgetall(store.key('eta'))
    .hgetall(store.key('workers'))
    .exec()) ?? []) as [Error | null, unknown][];
  const err = e1 ?? e2 ?? e3 ?? e4 ?? e5;
  if (err) throw err;
  const s = settings as Record<string, string>;
  const q = queued as string[];
  const run = (running as string[]).sort();
  const jobs = await store.jobs([...q, ...run]);
  const active = new Map<string, StoredJob>();
  for (const j of jobs) if (j) active.set(j.id, j);
  const live = parseWorkers(workers as Record<string, string>);
  return {
    paused: s.paused === '1',
    limits: {
      per_user: Number(s.per_user) || defaults.per_user,
      max_queued: Number(s.max_queued) || defaults.max_queued,
    },
    queued: q,
    running: run,
    active,
    eta: estimator(eta as Record<string, string>),
    workers: live,
    slots: live.reduce((n, w) => n + w.concurrency, 0),
  };
}

function runningProgress(job: StoredJob): JobProgress {
  return job.progress ?? { ...EMPTY, steps: job.options.steps };
}

/** Seconds until the job is done (and, while waiting, until it starts); 0 once ended; null before anything was measured. */
function estimate(
  job: StoredJob,
  snap: ScaleSnapshot,
): { eta_s: number | null; start_eta_s?: number | null } {
  if (TERMINAL.has(job.state)) return { eta_s: 0 };
  if (job.state === 'running') {
    const left = snap.eta.remaining(job.options, runningProgress(job));
    return { eta_s: left === undefined ? null : etaSeconds(left) };
  }
  const jobs = (ids: readonly string[]) => ids.flatMap((id) => snap.active.get(id) ?? []);
  const e = queuedEta(
    snap.eta,
    jobs(snap.running).map((r) => ({ shape: r.options, progress: runningProgress(r) })),
    jobs(snap.queued.slice(0, Math.max(0, snap.queued.indexOf(job.id)))).map((r) => r.options),
    job.options,
    snap.slots,
  );
  return { eta_s: e?.done_s ?? null, start_eta_s: e?.start_s ?? null };
}

export function toView(job: StoredJob, snap: ScaleSnapshot): JobView {
  const progress =
    job.state === 'running'
      ? runningProgress(job)
      : job.state === 'succeeded'
        ? { step: job.options.steps, steps: job.options.steps, chunk: 1, chunks: 1 }
        : EMPTY;
  return {
    id: job.id,
    user: job.user,
    state: job.state,
    position: job.state === 'queued' ? snap.queued.indexOf(job.id) + 1 : 0,
    progress,
    ...estimate(job, snap),
    ...(job.error ? { error: job.error } : {}),
    ...(job.errorCode ? { error_code: job.errorCode } : {}),
    options: job.options,
    seed: job.options.seed,
    ...(job.delivery ? { delivery: job.delivery } : {}),
    delivered: job.delivered,
    created_at: job.createdAt,
    ...(job.state === 'running' && job.encoding ? { encoding: true } : {}),
    format: job.format,
    ...(job.previewStep ? { preview_step: job.previewStep } : {}),
  };
}
