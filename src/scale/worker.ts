/**
 * `npm run worker`: one GPU sidecar worker for QUEUE_BACKEND=redis. Loads the engine once per GPU
 * (pinned with WORKER_GPUS or CUDA_VISIBLE_DEVICES), warms it up, then takes jobs from the shared
 * BullMQ queue until SIGTERM/SIGINT, when it puts its running jobs back and leaves. Logs go to
 * stderr. Configuration: src/scale/worker-config.ts and src/scale/README.md.
 */
// First: it may start the process again with glibc's malloc tuned (malloc-tuning.ts).
import '../malloc-tuning.ts';
import { createServer } from 'node:http';
import { checkFfmpeg } from '@stillmotion/engine';
import { createLogger } from '../log.ts';
import { configOrExit, stopOnSignals } from '../process-control.ts';
import { ServiceMetrics } from '../service/metrics.ts';
import { ScaleWorker } from './scale-worker.ts';
import { loadWorkerConfig, type WorkerConfig } from './worker-config.ts';
import { loadEngines } from './worker-engines.ts';

/**
 * This worker's /metrics and /healthz on WORKER_METRICS_PORT. It starts once the engine is warm and
 * the worker has joined, so /healthz answering means both (the image's HEALTHCHECK).
 */
function serveMetrics(config: WorkerConfig, metrics: ServiceMetrics, worker: ScaleWorker): void {
  if (config.metricsPort === undefined) return;
  const server = createServer((req, res) => {
    if (req.url === '/healthz') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: true, worker: worker.id }));
      return;
    }
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    void metrics.registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
    });
  });
  server.listen(config.metricsPort, config.metricsHost);
  server.unref();
}

async function main(): Promise<void> {
  const config = configOrExit('stillmotion worker', () => loadWorkerConfig());
  const logger = createLogger(config.logLevel, { format: config.logFormat });
  const ffmpeg = await checkFfmpeg();
  logger.info({ ffmpeg: ffmpeg.path, version: ffmpeg.version }, 'ffmpeg found');
  const started = performance.now();
  const engines = await loadEngines(config, logger);
  const metrics = new ServiceMetrics({ defaultMetrics: true });
  metrics.provider.set({ provider: engines[0].provider, model: engines[0].model.name }, 1);
  logger.info(
    {
      provider: engines[0].provider,
      model: engines[0].model.name,
      ms: Math.round(performance.now() - started),
    },
    'engine warm',
  );
  const worker = new ScaleWorker({
    redisUrl: config.redisUrl,
    prefix: config.prefix,
    workerId: config.workerId,
    engines,
    logger,
    maxTries: config.maxTries,
    lockMs: config.lockMs,
    stalledMs: config.stalledMs,
    heartbeatMs: config.heartbeatMs,
    resultTtlMs: config.resultTtlMs,
    limits: { maxBytes: config.maxUploadBytes, maxPixels: config.maxPixels },
    device: config.gpus.length ? `cuda:${config.gpus.join(',')}` : engines[0].provider,
    metrics,
  });
  metrics.depthSource = async () => ({ queued: 0, running: worker.running });
  await worker.start();
  serveMetrics(config, metrics, worker);
  stopOnSignals(logger, 'stopping: running jobs go back to the queue', 'stopping', () => worker.stop());
}

process.on('unhandledRejection', (reason) => {
  process.stderr.write(
    `stillmotion worker: unhandled rejection: ${String((reason as Error)?.stack ?? reason)}\n`,
  );
});

await main();
