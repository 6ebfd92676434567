/**
 * Assembles a producer for QUEUE_BACKEND=redis: the Redis-backed job service, its metrics (fleet
 * numbers included) and what the HTTP app needs to know. No engine loads here: the GPU workers
 * (`npm run worker`) run the jobs. Submissions only need the model's description and the
 * header-only image check.
 */
import { inspectImage, loadModelInfo } from '@stillmotion/engine';
import type { Config } from '../config.ts';
import type { SidecarInfo } from '../http/context.ts';
import type { Logger } from '../log.ts';
import { ServiceMetrics } from '../service/metrics.ts';
import { RedisJobService } from './redis-job-service.ts';
import { attachScaleMetrics } from './scale-metrics.ts';

export type ProducerConfig = Pick<
  Config,
  'redisUrl' | 'perUser' | 'maxQueued' | 'maxUploadBytes' | 'maxPixels' | 'resultTtlMs' | 'modelDir'
> &
  Partial<
    Pick<
      Config,
      | 'redisPrefix'
      | 'redisMemoryBudgetBytes'
      | 'redisResultReserveBytes'
      | 'dailyQuotaUser'
      | 'dailyQuotaGuild'
    >
  >;

export interface RedisProducer {
  readonly service: RedisJobService;
  readonly metrics: ServiceMetrics;
  readonly info: SidecarInfo;
  close(): Promise<void>;
}

export async function createRedisProducer(
  config: ProducerConfig,
  logger: Logger,
  options: { defaultMetrics?: boolean; waitMs?: number } = {},
): Promise<RedisProducer> {
  if (!config.redisUrl) throw new TypeError('REDIS_URL is required when QUEUE_BACKEND=redis');
  const model = loadModelInfo(config.modelDir);
  const service = new RedisJobService({
    redisUrl: config.redisUrl,
    prefix: config.redisPrefix,
    model,
    inspectImage,
    logger,
    limits: { per_user: config.perUser, max_queued: config.maxQueued },
    maxUploadBytes: config.maxUploadBytes,
    maxPixels: config.maxPixels,
    resultTtlMs: config.resultTtlMs,
    memoryBudgetBytes: config.redisMemoryBudgetBytes,
    resultReserveBytes: config.redisResultReserveBytes,
    quotas: { user: config.dailyQuotaUser ?? 0, guild: config.dailyQuotaGuild ?? 0 },
  });
  const metrics = new ServiceMetrics({ defaultMetrics: options.defaultMetrics });
  attachScaleMetrics(metrics, service);
  try {
    await service.waitConnected(options.waitMs ?? 10_000);
  } catch (err) {
    // Not fatal: submissions answer 503 "queue unavailable" until Redis is back.
    logger.warn(
      { err: (err as Error).message },
      'redis is not reachable yet; the queue is unavailable until it is',
    );
  }
  return {
    service,
    metrics,
    info: { model, ready: () => service.ready, provider: () => service.provider },
    close: () => service.close(),
  };
}
