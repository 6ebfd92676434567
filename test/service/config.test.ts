import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, engineSettings, isLoopback, loadConfig } from '../../src/config.ts';
import { createLogger, jobLogger } from '../../src/log.ts';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 8080, host: '127.0.0.1', perUser: 3, maxQueued: 100, concurrency: 1 });
    expect(c.maxUploadBytes).toBe(20_000_000);
    expect(c.maxPixels).toBe(40_000_000);
    expect(c.resultTtlMs).toBe(24 * 3_600_000);
    expect(c.adminToken).toBeUndefined();
  });

  it('refuses a non-loopback HOST without an admin token, and allows it with one', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(ConfigError);
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(/STILLMOTION_ADMIN_TOKEN/);
    expect(loadConfig({ HOST: '0.0.0.0', STILLMOTION_ADMIN_TOKEN: 's3cret' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: 'localhost' }).host).toBe('localhost');
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('127.0.0.2')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });

  it('names every bad variable at once', () => {
    try {
      loadConfig({ PORT: 'eighty', PER_USER_LIMIT: '0', SVD_DEVICE: 'tpu', ENGINE_URL: 'not a url' });
      expect.unreachable();
    } catch (err) {
      const text = (err as Error).message;
      for (const name of ['PORT', 'PER_USER_LIMIT', 'SVD_DEVICE', 'ENGINE_URL']) expect(text).toContain(name);
    }
    expect(() => loadConfig({ QUEUE_BACKEND: 'redis' })).toThrow(/REDIS_URL/);
  });
});

describe('engine settings', () => {
  it('are unset by default, so the engine derives them (budget from the machine, chunk from the budget)', () => {
    expect(loadConfig({}).engine).toEqual({
      decodeChunkSize: undefined,
      memoryBudgetBytes: undefined,
      cpuArena: undefined,
      threads: undefined,
    });
  });

  it('reads SVD_DECODE_CHUNK, SVD_MEMORY_BUDGET_GB, SVD_CPU_ARENA and SVD_THREADS', () => {
    const env = { SVD_DECODE_CHUNK: '4', SVD_MEMORY_BUDGET_GB: '12.5', SVD_CPU_ARENA: '0', SVD_THREADS: '2' };
    const expected = { decodeChunkSize: 4, memoryBudgetBytes: 12.5 * 2 ** 30, cpuArena: false, threads: 2 };
    expect(loadConfig(env).engine).toEqual(expected);
    expect(engineSettings(env)).toEqual(expected);
    expect(engineSettings({ SVD_CPU_ARENA: 'true' }).cpuArena).toBe(true);
  });

  it('refuses bad values, naming the variable', () => {
    for (const [name, value] of [
      ['SVD_DECODE_CHUNK', '0'],
      ['SVD_DECODE_CHUNK', 'all'],
      ['SVD_MEMORY_BUDGET_GB', '-1'],
      ['SVD_CPU_ARENA', 'maybe'],
      ['SVD_THREADS', '1.5'],
    ] as const) {
      expect(() => engineSettings({ [name]: value })).toThrow(name);
      expect(() => loadConfig({ [name]: value })).toThrow(name);
    }
  });
});

describe('log', () => {
  it('redacts tokens and puts the job id on job lines', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const logger = createLogger('info', sink);
    logger.info({ token: 'xoxb-secret', config: { adminToken: 'admin-secret' } }, 'starting');
    logger.info({ headers: { authorization: 'Bearer admin-secret' } }, 'request');
    jobLogger(logger, 'job123').info('step');
    const text = lines.join('');
    expect(text).not.toContain('secret');
    expect(text).toContain('[redacted]');
    expect(JSON.parse(lines[2]!)).toMatchObject({ job: 'job123', msg: 'step' });
  });
});
