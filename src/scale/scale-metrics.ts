/**
 * Prometheus numbers of the whole redis-mode fleet, read from Redis at scrape time and added to a
 * producer's {@link ServiceMetrics} registry, so `GET /metrics` of any producer shows them:
 * per worker (slots, running, jobs done, last heartbeat) and for the queue (waiting, running,
 * BullMQ's own counts, ended jobs by state and failure reason, whether Redis answers).
 */
import { Gauge } from 'prom-client';
import type { ServiceMetrics } from '../service/metrics.ts';
import type { RedisJobService } from './redis-job-service.ts';
import type { ScaleSnapshot } from './views.ts';

interface FleetNumbers {
  readonly snap: ScaleSnapshot;
  readonly bull: Record<string, number>;
  readonly stats: Record<string, string>;
}

/** The fleet's numbers, read from Redis at most every 500 ms however many gauges a scrape collects. */
function fleetReader(service: RedisJobService): () => Promise<FleetNumbers | undefined> {
  let cached: { at: number; value: Promise<FleetNumbers | undefined> } | undefined;
  return () => {
    if (cached && Date.now() - cached.at < 500) return cached.value;
    const value = (async () => {
      if (!service.connected) return undefined;
      try {
        const snap = await service.snapshot();
        const bull = await service.bullCounts();
        const stats = await service.store.redis.hgetall(service.store.key('stats'));
        return { snap, bull, stats };
      } catch {
        return undefined;
      }
    })();
    cached = { at: Date.now(), value };
    return value;
  };
}

type Worker = ScaleSnapshot['workers'][number];

export function attachScaleMetrics(metrics: ServiceMetrics, service: RedisJobService): void {
  const fleet = fleetReader(service);
  metrics.depthSource = async () => {
    const f = await fleet();
    return f ? { queued: f.snap.queued.length, running: f.snap.running.length } : { queued: 0, running: 0 };
  };
  /** A gauge emptied and filled again from the fleet's numbers (undefined while Redis does not answer) at each scrape. */
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, f: FleetNumbers | undefined) => void,
  ) => {
    const g: Gauge<L> = new Gauge({
      name,
      help,
      labelNames,
      registers: [metrics.registry],
      collect: async () => {
        const f = await fleet();
        g.reset();
        fill(g, f);
      },
    });
  };
  const perWorker = (name: string, help: string, pick: (w: Worker) => number) =>
    gauge(name, help, ['worker', 'host', 'provider'], (g, f) => {
      for (const w of f?.snap.workers ?? [])
        g.set({ worker: w.id, host: w.host, provider: w.provider }, pick(w));
    });

  gauge('stillmotion_queue_up', '1 while the shared queue (Redis) answers, else 0', [], (g, f) =>
    g.set(f ? 1 : 0),
  );
  gauge('stillmotion_workers_live', 'Workers that sent a heartbeat in the last 15 s', [], (g, f) =>
    g.set(f?.snap.workers.length ?? 0),
  );
  perWorker('stillmotion_worker_slots', 'Jobs a worker runs at once (its GPUs)', (w) => w.concurrency);
  perWorker('stillmotion_worker_running', 'Jobs running on a worker now', (w) => w.running);
  perWorker('stillmotion_worker_last_seen_seconds', 'Unix time of the last heartbeat', (w) => w.seen / 1000);
  gauge(
    'stillmotion_worker_jobs',
    'Jobs a worker ended since it started, by outcome (retried: tries taken over from a dead worker)',
    ['worker', 'outcome'],
    (g, f) => {
      for (const w of f?.snap.workers ?? []) {
        for (const outcome of ['succeeded', 'failed', 'canceled', 'retried'] as const)
          g.set({ worker: w.id, outcome }, w[outcome]);
      }
    },
  );
  gauge(
    'stillmotion_bullmq_jobs',
    "BullMQ's job counts by its own state (prioritized = waiting in fair order)",
    ['state'],
    (g, f) => {
      for (const [state, n] of Object.entries(f?.bull ?? {})) g.set({ state }, n);
    },
  );
  gauge(
    'stillmotion_jobs_ended',
    'Jobs ended across all workers, by state and (for failures) reason',
    ['state', 'reason'],
    (g, f) => {
      for (const [field, n] of Object.entries(f?.stats ?? {})) {
        const [state, reason] = field.split(':');
        if (reason) g.set({ state: state!, reason }, Number(n));
        else if (state !== 'failed') g.set({ state: state!, reason: '' }, Number(n));
      }
    },
  );
}
