/**
 * Settings are arguments: the engine takes its model folder, device, CUDA device id, decode chunk and
 * memory budget from SvdEngine.load's options, and an `SVD_*` variable in the environment changes nothing.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLED_MODEL_DIR, SvdEngine } from '../../engine/src/index.ts';
import { sessionOptions } from '../../engine/src/runtime.ts';

// What the engine used to read itself; each would break or redirect a load if it were still read.
const MISLEADING_ENV = {
  SVD_MODEL_DIR: '/nonexistent/model-dir',
  SVD_DEVICE: 'tpu',
  SVD_CUDA_DEVICE_ID: '5',
  SVD_DECODE_CHUNK: '1',
  SVD_MEMORY_BUDGET_GB: '0.001',
} as const;

let saved: Record<string, string | undefined>;
beforeEach(() => {
  saved = Object.fromEntries(Object.keys(MISLEADING_ENV).map((k) => [k, process.env[k]]));
  Object.assign(process.env, MISLEADING_ENV);
});
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('SvdEngine.load options win over the environment', () => {
  it('loads the bundled model on the given device with the given decode chunk and budget', async () => {
    const engine = await SvdEngine.load({ device: 'cpu', decodeChunkSize: 3, memoryBudgetBytes: 2 ** 34 });
    try {
      expect(engine.model.dir).toBe(BUNDLED_MODEL_DIR);
      expect(engine.provider).toBe('cpu');
      expect(engine.decodeChunkSize).toBe(3);
      expect(engine.memoryBudgetBytes).toBe(2 ** 34);
      const plan = engine.plan(engine.resolveOptions({ frames: 6, seed: 1 }), 64, 64);
      expect(plan.decodeChunk).toBe(3);
    } finally {
      await engine.release();
    }
  });

  it('with no options, ignores SVD_MODEL_DIR and SVD_DEVICE and uses its own defaults', async () => {
    // SVD_DEVICE=tpu would be refused and SVD_MODEL_DIR does not exist: auto falls back to the CPU here.
    const engine = await SvdEngine.load({});
    try {
      expect(engine.model.dir).toBe(BUNDLED_MODEL_DIR);
      expect(engine.provider).toBe('cpu');
      expect(engine.decodeChunkSize).toBeUndefined();
      expect(engine.memoryBudgetBytes).toBeGreaterThan(2 ** 30);
    } finally {
      await engine.release();
    }
  });

  it('refuses a CUDA device id that is not a whole number ≥ 0', async () => {
    for (const id of [-1, 1.5, Number.NaN]) {
      await expect(SvdEngine.load({ device: 'cpu', cudaDeviceId: id })).rejects.toMatchObject({
        code: 'bad_config',
        message: expect.stringContaining('CUDA device id'),
      });
    }
  });
});

describe('sessionOptions', () => {
  it('puts the CUDA device id it is given on the CUDA provider, not SVD_CUDA_DEVICE_ID', () => {
    expect(sessionOptions('cuda', { cudaDeviceId: 2 }).executionProviders).toEqual([
      { name: 'cuda', deviceId: 2 },
    ]);
    expect(sessionOptions('cuda').executionProviders).toEqual([{ name: 'cuda', deviceId: 0 }]);
    expect(sessionOptions('cpu', { cudaDeviceId: 2 }).executionProviders).toEqual(['cpu']);
  });
});

describe('who reads the environment', () => {
  const sources = (dir: string) =>
    readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(dir, f));
  const reads = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(
        (line) => /process\.env|\benv\.SVD_|\benv\[['"]SVD_/.test(line) && !/^\s*(\*|\/\/|\/\*)/.test(line),
      );

  it('the engine reads no SVD_* variable: only where ffmpeg and onnxruntime are found, as injectable defaults', () => {
    const offenders = sources('engine/src').flatMap((file) =>
      reads(file)
        .filter(
          (line) =>
            /SVD_/.test(line) ||
            !/(env: NodeJS\.ProcessEnv = process\.env|options\.env \?\? process\.env)/.test(line),
        )
        .map((line) => `${file}: ${line.trim()}`),
    );
    expect(offenders).toEqual([]);
  });

  it('in src/, only the config modules read process.env', () => {
    const readers = sources('src').filter((file) => reads(file).some((line) => line.includes('process.env')));
    expect(readers.sort()).toEqual(['src/config.ts', 'src/scale/worker-config.ts']);
  });
});
