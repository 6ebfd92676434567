/**
 * The worker's engines: one per GPU listed in WORKER_GPUS, each loaded with its CUDA device id as an
 * argument and warmed up; or, with no GPUs listed, one engine that every job slot shares.
 */
import { type EngineLoadOptions, type EngineLogger, SvdEngine } from '@stillmotion/engine';
import type { EnginePort } from '../service/engine-port.ts';
import type { WorkerConfig } from './worker-config.ts';

/** What loads one engine; SvdEngine.load, or a fake in tests. */
export type LoadEngine = (options: EngineLoadOptions) => Promise<EnginePort>;

type EngineConfig = Pick<WorkerConfig, 'gpus' | 'concurrency' | 'modelDir' | 'device' | 'engine'>;

/** One engine per slot, in slot order (the same engine in every slot when no GPUs are listed). */
export async function loadEngines(
  config: EngineConfig,
  logger: EngineLogger,
  load: LoadEngine = (options) => SvdEngine.load(options),
): Promise<EnginePort[]> {
  const loadWarm = async (cudaDeviceId?: number) => {
    const engine = await load({
      ...config.engine,
      modelDir: config.modelDir,
      device: config.device,
      cudaDeviceId,
      logger,
    });
    await engine.warmup();
    return engine;
  };
  if (config.gpus.length === 0) {
    const engine = await loadWarm();
    return Array.from({ length: config.concurrency }, () => engine);
  }
  const engines: EnginePort[] = [];
  for (const gpu of config.gpus) {
    const engine = await loadWarm(gpu);
    logger.info({ gpu, provider: engine.provider }, 'engine warm on GPU');
    engines.push(engine);
  }
  return engines;
}
