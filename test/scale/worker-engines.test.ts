/**
 * The worker pins each engine to its GPU by passing the CUDA device id to SvdEngine.load, and sets no
 * environment variable to do it.
 */
import type { EngineLoadOptions } from '@stillmotion/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { loadWorkerConfig } from '../../src/scale/worker-config.ts';
import { loadEngines } from '../../src/scale/worker-engines.ts';
import type { EnginePort } from '../../src/service/engine-port.ts';

const silent = { info() {}, warn() {} };

function fakeLoader() {
  const calls: EngineLoadOptions[] = [];
  const warmed: number[] = [];
  const load = async (options: EngineLoadOptions): Promise<EnginePort> => {
    const index = calls.push(options) - 1;
    return {
      provider: 'cuda',
      warmup: async () => void warmed.push(index),
    } as unknown as EnginePort;
  };
  return { calls, warmed, load };
}

const before = process.env.SVD_CUDA_DEVICE_ID;
afterEach(() => {
  if (before === undefined) delete process.env.SVD_CUDA_DEVICE_ID;
  else process.env.SVD_CUDA_DEVICE_ID = before;
});

describe('the worker loads its engines', () => {
  it('one per GPU in WORKER_GPUS, each given its CUDA device id, without touching the environment', async () => {
    delete process.env.SVD_CUDA_DEVICE_ID;
    const config = loadWorkerConfig({
      REDIS_URL: 'redis://r:6379',
      WORKER_GPUS: '0,2',
      SVD_DEVICE: 'cuda',
      SVD_MODEL_DIR: '/models/xt',
      SVD_DECODE_CHUNK: '5',
    });
    const fake = fakeLoader();
    const engines = await loadEngines(config, silent, fake.load);
    expect(fake.calls).toEqual([
      expect.objectContaining({
        cudaDeviceId: 0,
        device: 'cuda',
        modelDir: '/models/xt',
        decodeChunkSize: 5,
      }),
      expect.objectContaining({
        cudaDeviceId: 2,
        device: 'cuda',
        modelDir: '/models/xt',
        decodeChunkSize: 5,
      }),
    ]);
    expect(engines).toHaveLength(2);
    expect(engines[0]).not.toBe(engines[1]);
    expect(fake.warmed).toEqual([0, 1]);
    expect(process.env.SVD_CUDA_DEVICE_ID).toBeUndefined();
  });

  it('one shared engine on the default device when no GPUs are listed', async () => {
    const config = loadWorkerConfig({ REDIS_URL: 'redis://r:6379', WORKER_CONCURRENCY: '3' });
    const fake = fakeLoader();
    const engines = await loadEngines(config, silent, fake.load);
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]!.cudaDeviceId).toBeUndefined();
    expect(fake.calls[0]!.device).toBe('auto');
    expect(engines).toHaveLength(3);
    expect(new Set(engines).size).toBe(1);
    expect(fake.warmed).toEqual([0]);
  });
});
