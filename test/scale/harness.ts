/**
 * Scale-out test harness: real worker processes (`src/scale/worker.ts` on the tiny CPU model),
 * real producers (the Redis job service, and the unchanged HTTP app on top of one), one real
 * Redis per test file.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { buildApp } from '../../src/http/app.ts';
import { listen } from '../../src/http/server.ts';
import { createLogger } from '../../src/log.ts';
import { createRedisProducer, type RedisProducer } from '../../src/scale/producer.ts';
import type { RedisJobService } from '../../src/scale/redis-job-service.ts';
import type { JobView } from '../../src/service/types.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_TOKEN = 'scale-admin-token';
export const TINY = { frames: 2, steps: 1 } as const;
export const ended = (v: JobView | undefined): boolean =>
  v !== undefined && ['succeeded', 'failed', 'canceled'].includes(v.state);

export interface WorkerProc {
  readonly proc: ChildProcess;
  readonly id: string;
  exited(): Promise<void>;
}

/** Timing knobs for tests: a dead worker's job is taken back after about lock + stalled check. */
export const FAST_WORKER_ENV = {
  WORKER_LOCK_MS: '5000',
  WORKER_STALLED_MS: '1000',
  WORKER_HEARTBEAT_MS: '500',
  // One spare try: on a loaded 2-core CI box a lock renewal can come late, which counts as a try.
  WORKER_MAX_TRIES: '3',
};

export function spawnWorker(
  redisUrl: string,
  id: string,
  env: Record<string, string> = {},
  onLog?: (line: string) => void,
): WorkerProc {
  const proc = spawn(process.execPath, [path.join(root, 'src/scale/worker.ts')], {
    cwd: root,
    env: {
      ...process.env,
      REDIS_URL: redisUrl,
      WORKER_ID: id,
      SVD_DEVICE: 'cpu',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...FAST_WORKER_ENV,
      ...env,
    },
    stdio: ['ignore', 'ignore', onLog ? 'pipe' : 'inherit'],
  });
  if (onLog) {
    let rest = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) onLog(line);
    });
  }
  const exit = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return { proc, id, exited: () => exit };
}

export async function stopWorker(w: WorkerProc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill(signal);
  await w.exited();
}

export interface Producer extends RedisProducer {
  /** Base URL of the HTTP app serving this producer. */
  readonly url: string;
  closeAll(): Promise<void>;
}

export async function startProducer(
  redisUrl: string,
  perUser = 3,
  maxQueued = 100,
  memory: { redisMemoryBudgetBytes?: number; redisResultReserveBytes?: number } = {},
): Promise<Producer> {
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const producer = await createRedisProducer(
    {
      redisUrl,
      perUser,
      maxQueued,
      maxUploadBytes: 20_000_000,
      maxPixels: 40_000_000,
      resultTtlMs: 3_600_000,
      modelDir: undefined,
      ...memory,
    },
    logger,
  );
  const app = await buildApp({
    service: producer.service,
    info: producer.info,
    logger,
    adminToken: ADMIN_TOKEN,
    metrics: producer.metrics,
    playground: false,
  });
  const server = await listen(app, '127.0.0.1', 0);
  return {
    ...producer,
    url: server.url,
    async closeAll() {
      await server.close();
      await producer.close();
    },
  };
}

export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // Not yet (Redis may be away on purpose).
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function liveWorkers(service: RedisJobService): Promise<string[]> {
  return service.store.redis.hgetall(service.store.key('workers')).then((raw) =>
    Object.values(raw)
      .map((t) => JSON.parse(t) as { id: string; seen: number })
      .filter((b) => Date.now() - b.seen < 2000)
      .map((b) => b.id)
      .sort(),
  );
}

export async function png(color = { r: 200, g: 40, b: 90 }): Promise<Buffer> {
  return sharp({ create: { width: 96, height: 64, channels: 3, background: color } })
    .png()
    .toBuffer();
}

export async function http(
  base: string,
  method: string,
  route: string,
  o: { token?: string; json?: unknown; form?: FormData } = {},
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the tests
): Promise<{ status: number; body: any; bytes: Buffer; type: string | null }> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(route.replace(/^\//, ''), base), {
    method,
    headers,
    body: o.form ?? (o.json === undefined ? undefined : JSON.stringify(o.json)),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: unknown = bytes.toString();
  try {
    body = JSON.parse(body as string);
  } catch {}
  return { status: res.status, body, bytes, type: res.headers.get('content-type') };
}

export function jobForm(image: Buffer, fields: Record<string, string>): FormData {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'pic.png');
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}
