/**
 * Prometheus metrics of the service (prom-client), on a registry of its own so that several
 * services can live in one process (tests).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export class ServiceMetrics {
  readonly registry = new Registry();
  readonly queueDepth: Gauge<'state'>;
  readonly jobDuration: Histogram<'outcome'>;
  readonly stepDuration: Histogram;
  readonly failures: Counter<'reason'>;
  readonly provider: Gauge<'provider' | 'model'>;
  readonly accepted: Counter;
  readonly refused: Counter<'code'>;
  /** Read at scrape time, so the depth is never stale. */
  depthSource: (() => Promise<{ queued: number; running: number }>) | undefined;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.queueDepth = new Gauge({
      name: 'stillmotion_queue_depth',
      help: 'Jobs waiting or running',
      labelNames: ['state'],
      registers,
      collect: async () => {
        const depth = await this.depthSource?.();
        if (!depth) return;
        this.queueDepth.set({ state: 'queued' }, depth.queued);
        this.queueDepth.set({ state: 'running' }, depth.running);
      },
    });
    this.jobDuration = new Histogram({
      name: 'stillmotion_job_duration_seconds',
      help: 'Run time of jobs, from start to the video written',
      labelNames: ['outcome'],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registers,
    });
    this.stepDuration = new Histogram({
      name: 'stillmotion_step_duration_seconds',
      help: 'Duration of one denoising step',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
      registers,
    });
    this.failures = new Counter({
      name: 'stillmotion_job_failures_total',
      help: 'Failed jobs by reason',
      labelNames: ['reason'],
      registers,
    });
    this.provider = new Gauge({
      name: 'stillmotion_provider_info',
      help: 'Execution provider and model in use (value 1)',
      labelNames: ['provider', 'model'],
      registers,
    });
    this.accepted = new Counter({
      name: 'stillmotion_jobs_accepted_total',
      help: 'Jobs accepted',
      registers,
    });
    this.refused = new Counter({
      name: 'stillmotion_jobs_refused_total',
      help: 'Submissions refused, by error code',
      labelNames: ['code'],
      registers,
    });
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'stillmotion_' });
  }
}
