/**
 * Reads one consistent-enough picture of the shared queue (waiting order, running jobs, limits,
 * live workers, measured speeds) and turns stored jobs into the {@link JobView}s every client sees,
 * through the same shaping as the in-process service (src/service/job-view.ts).
 */
import { EtaEstimator } from '../service/eta.ts';
import { EMPTY_PROGRESS, jobView, type QueueSnapshot, type ViewContext } from '../service/job-view.ts';
import type { JobView, QueueLimits } from '../service/types.ts';
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

export interface ScaleSnapshot extends QueueSnapshot {
  /** The waiting and running jobs, for ETAs. */
  readonly active: ReadonlyMap<string, StoredJob>;
  readonly eta: EtaEstimator;
  /** Workers seen within the liveness window. */
  readonly workers: readonly WorkerBeat[];
  /** Job slots of the live workers (0 when none is up). */
  readonly slots: number;
}

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

/** Where the views of stored jobs find their queue place, progress and ETAs: the snapshot. */
function context(snap: ScaleSnapshot): ViewContext<StoredJob> {
  return {
    queued: snap.queued,
    running: snap.running,
    eta: snap.eta,
    slots: snap.slots,
    job: (id) => snap.active.get(id),
    progress: (job) => job.progress ?? { ...EMPTY_PROGRESS, steps: job.options.steps },
    encoding: (job) => job.encoding,
    previewStep: (job) => job.previewStep,
  };
}

export function toView(job: StoredJob, snap: ScaleSnapshot): JobView {
  return jobView(job, context(snap));
}
