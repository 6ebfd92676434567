import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, engineLoadSettings, engineSettings, isLoopback, loadConfig } from '../../src/config.ts';
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
    expect(
      loadConfig({ HOST: '0.0.0.0', STILLMOTION_ADMIN_TOKEN: 'a-long-enough-secret-0123456789' }).host,
    ).toBe('0.0.0.0');
    expect(loadConfig({ HOST: 'localhost' }).host).toBe('localhost');
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('127.0.0.2')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });

  it('refuses a short token, the .env.example placeholder, and a bot token equal to the admin one', () => {
    const example = readFileSync(path.join(import.meta.dirname, '../../.env.example'), 'utf8');
    const placeholder = /^STILLMOTION_ADMIN_TOKEN=(.*)$/m.exec(example)![1]!;
    expect(() => loadConfig({ STILLMOTION_ADMIN_TOKEN: placeholder })).toThrow(
      /STILLMOTION_ADMIN_TOKEN: is the \.env\.example placeholder/,
    );
    expect(() => loadConfig({ STILLMOTION_ADMIN_TOKEN: 'x'.repeat(23) })).toThrow(
      /STILLMOTION_ADMIN_TOKEN: is 23 characters; use at least 24/,
    );
    expect(() => loadConfig({ STILLMOTION_BOT_TOKEN: 'short' })).toThrow(/STILLMOTION_BOT_TOKEN/);
    const same = 'y'.repeat(30);
    expect(() => loadConfig({ STILLMOTION_ADMIN_TOKEN: same, STILLMOTION_BOT_TOKEN: same })).toThrow(
      /must differ/,
    );
    const ok = loadConfig({
      STILLMOTION_ADMIN_TOKEN: 'x'.repeat(24),
      STILLMOTION_BOT_TOKEN: 'z'.repeat(32),
      PUBLIC_URL: 'https://gpu.example.org/',
      ALLOWED_HOSTS: 'Sidecar:8080, api ,[::1]',
      TRUST_PROXY: '10.0.0.0/8',
    });
    expect(ok).toMatchObject({
      adminToken: 'x'.repeat(24),
      botToken: 'z'.repeat(32),
      publicUrl: 'https://gpu.example.org/',
      allowedHosts: ['sidecar', 'api', '::1'],
      trustProxy: '10.0.0.0/8',
      submitRatePerMinute: 30,
    });
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).toBe(true);
    expect(loadConfig({ TRUST_PROXY: 'false' }).trustProxy).toBeUndefined();
    expect(() => loadConfig({ PUBLIC_URL: 'ftp://x' })).toThrow(/PUBLIC_URL/);
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

  it('for the tools, add SVD_MODEL_DIR and SVD_DEVICE, unset when the environment leaves them out', () => {
    expect(
      engineLoadSettings({ SVD_MODEL_DIR: ' /models/xt ', SVD_DEVICE: 'cuda', SVD_THREADS: '3' }),
    ).toEqual({
      modelDir: '/models/xt',
      device: 'cuda',
      decodeChunkSize: undefined,
      memoryBudgetBytes: undefined,
      cpuArena: undefined,
      threads: 3,
    });
    const unset = engineLoadSettings({ SVD_MODEL_DIR: '', PATH: '/usr/bin' });
    expect(unset.modelDir).toBeUndefined();
    expect(unset.device).toBeUndefined();
    expect(() => engineLoadSettings({ SVD_DEVICE: 'tpu' })).toThrow(/SVD_DEVICE/);
    expect(() => engineLoadSettings({ SVD_DECODE_CHUNK: '0' })).toThrow(/SVD_DECODE_CHUNK/);
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
