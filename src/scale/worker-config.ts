/**
 * Configuration of a GPU worker process (`npm run worker`), from the environment, checked once
 * at start. Every problem is reported at once, naming the variable.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, type RunnerSettings, runnerFields, runnerSettings } from '../config.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const text = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

const schema = z.object({
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .default('stillmotion'),
  WORKER_ID: text,
  /** Comma list of CUDA device ids: one engine (and one job slot) per GPU. */
  WORKER_GPUS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be a comma list of CUDA device ids such as 0,1')
    .optional(),
  /** Job slots when WORKER_GPUS is unset (they share one engine). Default 1: one process per GPU. */
  WORKER_CONCURRENCY: int(1, 64).optional(),
  /** Tries per job: a job whose worker died this many times fails with a reason. */
  WORKER_MAX_TRIES: int(1, 20).default(2),
  /** BullMQ lock: a dead worker's job is taken back after this long (plus up to one stalled check). */
  WORKER_LOCK_MS: int(1000, 600_000).default(30_000),
  WORKER_STALLED_MS: int(500, 600_000).default(15_000),
  WORKER_HEARTBEAT_MS: int(200, 60_000).default(5000),
  /** Serve this worker's Prometheus metrics on this port (unset: off). */
  WORKER_METRICS_PORT: int(0, 65535).optional(),
  WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  ...runnerFields,
});

export interface WorkerConfig extends RunnerSettings {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly workerId: string;
  /** CUDA device ids to pin, one engine each; empty: one engine on the default device. */
  readonly gpus: readonly number[];
  readonly concurrency: number;
  readonly maxTries: number;
  readonly lockMs: number;
  readonly stalledMs: number;
  readonly heartbeatMs: number;
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
}

export function loadWorkerConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
): WorkerConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid worker configuration:\n  ${lines.join('\n  ')}`);
  }
  const c = parsed.data;
  const gpus = c.WORKER_GPUS ? c.WORKER_GPUS.split(',').map(Number) : [];
  if (gpus.length && c.WORKER_CONCURRENCY !== undefined && c.WORKER_CONCURRENCY !== gpus.length) {
    throw new ConfigError(
      `invalid worker configuration:\n  WORKER_CONCURRENCY: ${c.WORKER_CONCURRENCY} does not match the ${gpus.length} GPUs in WORKER_GPUS (one job per GPU)`,
    );
  }
  return Object.freeze({
    ...runnerSettings(c),
    redisUrl: c.REDIS_URL,
    prefix: c.REDIS_PREFIX,
    workerId: c.WORKER_ID ?? `${hostname()}-${process.pid}`,
    gpus,
    concurrency: gpus.length || c.WORKER_CONCURRENCY || 1,
    maxTries: c.WORKER_MAX_TRIES,
    lockMs: c.WORKER_LOCK_MS,
    stalledMs: c.WORKER_STALLED_MS,
    heartbeatMs: c.WORKER_HEARTBEAT_MS,
    metricsPort: c.WORKER_METRICS_PORT,
    metricsHost: c.WORKER_METRICS_HOST,
  });
}
