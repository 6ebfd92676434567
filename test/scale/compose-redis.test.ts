/**
 * docker-compose.yml's Redis (issue 10, item 8), run for real: the compose command of the `redis`
 * service, started with a local redis-server. It refuses to start without a password, demands
 * the password of every client, and has a maxmemory above the producers' memory budget.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort } from './redis-server.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'));
const service = compose.services.redis;
const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-compose-redis-'));
/** `${NAME:-default}` as compose fills it from `env`. */
const fill = (text: string, env: Record<string, string>) =>
  text.replace(/\$\{(\w+):-([^}]*)\}/g, (_, name: string, dflt: string) => env[name] ?? dflt);

function runRedis(env: Record<string, string>, port: number) {
  const script = `${fill(service.command[2], env).replaceAll('$$', '$')} --port ${port} --bind 127.0.0.1 --dir ${dir}`;
  const containerEnv = Object.fromEntries(
    Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, fill(v, env)]),
  );
  const proc = spawn('sh', ['-c', script.replace('exec redis-server', 'exec /usr/bin/redis-server')], {
    env: { PATH: process.env.PATH, ...containerEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, exited, stderr: () => stderr };
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("docker compose's Redis", () => {
  it('does not start without REDIS_PASSWORD', async () => {
    const r = runRedis({}, await freePort());
    expect(await r.exited).not.toBe(0);
    expect(r.stderr()).toMatch(/set REDIS_PASSWORD/);
  });

  it('needs the password from every client and keeps maxmemory above the memory budget', async () => {
    const port = await freePort();
    const password = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const r = runRedis({ REDIS_PASSWORD: password }, port);
    const url = fill(compose.services.api.environment.REDIS_URL, { REDIS_PASSWORD: password }).replace(
      'redis:6379',
      `127.0.0.1:${port}`,
    );
    const anonymous = new Redis({
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => 100,
    });
    const client = new Redis(url, { retryStrategy: () => 100 });
    anonymous.on('error', () => {});
    client.on('error', () => {});
    try {
      await new Promise((resolve) => client.once('ready', resolve));
      await anonymous.connect().catch(() => {});
      await expect(anonymous.ping()).rejects.toThrow(/NOAUTH/);
      expect(await client.ping()).toBe('PONG');
      const get = async (name: string) => ((await client.config('GET', name)) as string[])[1];
      const [maxmemory, policy] = [await get('maxmemory'), await get('maxmemory-policy')];
      expect(policy).toBe('noeviction');
      const budgetMb = Number(fill(compose.services.api.environment.REDIS_MEMORY_BUDGET_MB, {}));
      expect(budgetMb).toBeGreaterThan(0);
      // The budget covers pictures and results; at least 256 MB more for records and BullMQ.
      expect(Number(maxmemory)).toBeGreaterThanOrEqual((budgetMb + 256) * 1024 * 1024);
      // Producers and workers all carry the password.
      for (const name of ['api', 'bots-scale', 'worker-gpu0', 'worker-gpu1'])
        expect(
          compose.services[name].environment?.REDIS_URL ?? compose.services.api.environment.REDIS_URL,
        ).toMatch(/^redis:\/\/:\$\{REDIS_PASSWORD:-\}@/);
    } finally {
      anonymous.disconnect();
      client.disconnect();
      r.proc.kill('SIGKILL');
      await r.exited;
    }
  });
});
