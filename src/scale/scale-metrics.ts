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

export function attachScaleMetrics(metrics: ServiceMetrics, service: RedisJobService): void {
  const registers = [metrics.registry];
  let cached: { at: number; value: Promise<FleetNumbers | undefined> } | undefined;
  const fleet = (): Promise<FleetNumbers | undefined> => {
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
  metrics.depthSource = async () => {
    const f = await fleet();
    return f ? { queued: f.snap.queued.length, running: f.snap.running.length } : { queued: 0, running: 0 };
  };

  const up: Gauge = new Gauge({
    name: 'stillmotion_queue_up',
    help: '1 while the shared queue (Redis) answers, else 0',
    registers,
    collect: async () => up.set((await fleet()) ? 1 : 0),
  });
  const live: Gauge = new Gauge({
    name: 'stillmotion_workers_live',
    help: 'Workers that sent a heartbeat in the last 15 s',
    registers,
    collect: async () => live.set((await fleet())?.snap.workers.length ?? 0),
  });
  const perWorker = (name: string, help: string, pick: (w: ScaleSnapshot['workers'][number]) => number) => {
    const g: Gauge<'worker' | 'host' | 'provider'> = new Gauge({
      name,
      help,
      labelNames: ['worker', 'host', 'provider'],
      registers,
      collect: async () => {
        g.reset();
        for (const w of (await fleet())?.snap.workers ?? [])
          g.set({ worker: w.id, host: w.host, provider: w.provider }, pick(w));
      },
    });
  };
  perWorker('stillmotion_worker_slots', 'Jobs a worker runs at once (its GPUs)', (w) => w.concurrency);
  perWorker('stillmotion_worker_running', 'Jobs running on a worker now', (w) => w.running);
  perWorker('stillmotion_worker_last_seen_seconds', 'Unix time of the last heartbeat', (w) => w.seen / 1000);
  const done: Gauge<'worker' | 'outcome'> = new Gauge({
    name: 'stillmotion_worker_jobs',
    help: 'Jobs a worker ended since it started, by outcome (retried: tries taken over from a dead worker)',
    labelNames: ['worker', 'outcome'],
    registers,
    collect: async () => {
      done.reset();
      for (const w of (await fleet())?.snap.workers ?? []) {
        for (const outcome of ['succeeded', 'failed', 'canceled', 'retried'] as const)
          done.set({ worker: w.id, outcome }, w[outcome]);
      }
    },
  });
  const bull: Gauge<'state'> = new Gauge({
    name: 'stillmotion_bullmq_jobs',
    help: "BullMQ's job counts by its own state (prioritized = waiting in fair order)",
    labelNames: ['state'],
    registers,
    collect: async () => {
      bull.reset();
      for (const [state, n] of Object.entries((await fleet())?.bull ?? {})) bull.set({ state }, n);
    },
  });
  const ended: Gauge<'state' | 'reason'> = new Gauge({
    name: 'stillmotion_jobs_ended',
    help: 'Jobs ended across all workers, by state and (for failures) reason',
    labelNames: ['state', 'reason'],
    registers,
    collect: async () => {
      ended.reset();
      for (const [field, n] of Object.entries((await fleet())?.stats ?? {})) {
        const [state, reason] = field.split(':');
        if (reason) ended.set({ state, reason }, Number(n));
        else if (state !== 'failed') ended.set({ state, reason: '' }, Number(n));
      }
    },
  });
}
