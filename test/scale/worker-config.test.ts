/** The worker's configuration: defaults, GPU pinning and clear refusals naming the variable. */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { loadWorkerConfig } from '../../src/scale/worker-config.ts';

describe('worker configuration', () => {
  it('defaults to one job slot, two tries and the production lock timings', () => {
    const c = loadWorkerConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(c).toMatchObject({
      prefix: 'stillmotion',
      gpus: [],
      concurrency: 1,
      maxTries: 2,
      lockMs: 30_000,
      stalledMs: 15_000,
      resultTtlMs: 86_400_000,
    });
    expect(c.workerId).toMatch(/-\d+$/);
  });

  it('runs one slot per GPU listed in WORKER_GPUS', () => {
    const c = loadWorkerConfig({ REDIS_URL: 'redis://r:6379', WORKER_GPUS: '0,1,3', WORKER_ID: 'box-a' });
    expect(c).toMatchObject({ gpus: [0, 1, 3], concurrency: 3, workerId: 'box-a' });
  });

  it('refuses a missing Redis URL, bad GPU lists and a concurrency that contradicts the GPUs', () => {
    expect(() => loadWorkerConfig({})).toThrow(/REDIS_URL/);
    expect(() => loadWorkerConfig({ REDIS_URL: 'http://x' })).toThrow(/REDIS_URL: must be a redis/);
    expect(() => loadWorkerConfig({ REDIS_URL: 'redis://x', WORKER_GPUS: 'gpu0' })).toThrow(/WORKER_GPUS/);
    const err = (() => {
      try {
        loadWorkerConfig({ REDIS_URL: 'redis://x', WORKER_GPUS: '0,1', WORKER_CONCURRENCY: '4' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/WORKER_CONCURRENCY: 4 does not match the 2 GPUs/);
  });

  it('reads the model, device, engine, limits and logs as the sidecar does, and reports every bad one at once', () => {
    const env = {
      REDIS_URL: 'redis://r:6379',
      SVD_MODEL_DIR: '/models/xt',
      SVD_DEVICE: 'cuda',
      SVD_DECODE_CHUNK: '4',
      MAX_UPLOAD_MB: '8',
      MAX_PIXELS: '1000',
      RESULT_TTL_HOURS: '2',
      LOG_LEVEL: 'warn',
    };
    const shared = [
      'modelDir',
      'device',
      'engine',
      'maxUploadBytes',
      'maxPixels',
      'resultTtlMs',
      'logLevel',
    ] as const;
    const worker = loadWorkerConfig(env);
    const sidecar = loadConfig(env);
    for (const key of shared) expect(worker[key], key).toEqual(sidecar[key]);
    expect(worker).toMatchObject({
      modelDir: '/models/xt',
      device: 'cuda',
      maxUploadBytes: 8_000_000,
      resultTtlMs: 7_200_000,
    });
    expect(worker.engine.decodeChunkSize).toBe(4);
    expect(() =>
      loadWorkerConfig({ REDIS_URL: 'redis://x', SVD_DECODE_CHUNK: '0', WORKER_GPUS: 'gpu0' }),
    ).toThrow(/invalid worker configuration:[\s\S]*WORKER_GPUS[\s\S]*SVD_DECODE_CHUNK/);
  });
});
