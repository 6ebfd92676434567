/**
 * Assembles the in-process sidecar: journal, fair local backend, metrics and the job service.
 * The service accepts jobs at once (they wait); {@link LocalSidecar.warm} loads the engine,
 * runs its warm-up step and starts the queue.
 */
import { checkFfmpeg, inspectImage, loadModelInfo, SvdEngine } from '@stillmotion/engine';
import { type Config, loadConfig } from '../config.ts';
import type { Logger } from '../log.ts';
import { lockDataDir } from './data-lock.ts';
import type { EnginePort } from './engine-port.ts';
import { LocalJobService } from './job-service.ts';
import { Journal } from './journal.ts';
import { type BackendJob, LocalBackend } from './local-backend.ts';
import { ServiceMetrics } from './metrics.ts';

export type SidecarConfig = Pick<
  Config,
  | 'dataDir'
  | 'concurrency'
  | 'perUser'
  | 'maxQueued'
  | 'maxUploadBytes'
  | 'maxPixels'
  | 'resultTtlMs'
  | 'dataDirMaxBytes'
  | 'modelDir'
  | 'device'
  | 'engine'
> &
  Partial<Pick<Config, 'dailyQuotaUser' | 'dailyQuotaGuild'>>;

/**
 * The sidecar settings with every default of {@link loadConfig} (no environment read), for one
 * DATA_DIR: what tests and benchmarks start from, so that none spells the defaults out again.
 */
export function sidecarConfig(dataDir: string, overrides: Partial<SidecarConfig> = {}): SidecarConfig {
  return { ...loadConfig({ DATA_DIR: dataDir }), ...overrides };
}

export interface LocalSidecar {
  readonly service: LocalJobService;
  readonly metrics: ServiceMetrics;
  readonly journal: Journal;
  readonly backend: LocalBackend<BackendJob>;
  /** Checks ffmpeg, loads the engine, runs the warm-up step, starts the queue. */
  warm(): Promise<EnginePort>;
}

export async function createLocalSidecar(
  config: SidecarConfig,
  logger: Logger,
  options: { defaultMetrics?: boolean; engine?: () => Promise<EnginePort> } = {},
): Promise<LocalSidecar> {
  const model = loadModelInfo(config.modelDir);
  const unlock = lockDataDir(config.dataDir);
  const journal = new Journal(config.dataDir, {
    onDamaged: (id, problem) =>
      logger.error({ job: id, problem }, 'damaged journal row: skipped (its job is failed with a reason)'),
  });
  const metrics = new ServiceMetrics({ defaultMetrics: options.defaultMetrics });
  const backend = new LocalBackend<BackendJob>({
    concurrency: config.concurrency,
    limits: { per_user: config.perUser, max_queued: config.maxQueued },
    onError: (job, err) => logger.error({ job: job.id, err }, 'job processor threw'),
  });
  const service = new LocalJobService({
    journal,
    backend,
    model,
    inspectImage,
    logger,
    metrics,
    concurrency: config.concurrency,
    maxUploadBytes: config.maxUploadBytes,
    maxPixels: config.maxPixels,
    resultTtlMs: config.resultTtlMs,
    dataDirMaxBytes: config.dataDirMaxBytes,
    quotas: { user: config.dailyQuotaUser ?? 0, guild: config.dailyQuotaGuild ?? 0 },
  });
  service.onClose(unlock);
  const recovered = await service.open();
  if (recovered.requeued || recovered.retried || recovered.failed)
    logger.info(recovered, 'journal recovered');
  service.startCleanup();

  const warm = async (): Promise<EnginePort> => {
    const ffmpeg = await checkFfmpeg();
    logger.info({ ffmpeg: ffmpeg.path, source: ffmpeg.source, version: ffmpeg.version }, 'ffmpeg found');
    const engine: EnginePort = options.engine
      ? await options.engine()
      : await SvdEngine.load({ ...config.engine, modelDir: config.modelDir, device: config.device, logger });
    const started = performance.now();
    await engine.warmup();
    const warmupMs = performance.now() - started;
    logger.info(
      { provider: engine.provider, model: engine.model.name, warmup_ms: Math.round(warmupMs) },
      'engine warm',
    );
    service.attach(engine, warmupMs);
    return engine;
  };
  return { service, metrics, journal, backend, warm };
}
