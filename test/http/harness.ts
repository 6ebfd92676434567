/**
 * Test harness: a real sidecar (tiny model, real SQLite under a temp DATA_DIR, real ffmpeg)
 * behind the real fastify app, listening on a random loopback port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { type AppOptions, buildApp } from '../../src/http/app.ts';
import { listen } from '../../src/http/server.ts';
import { createLogger } from '../../src/log.ts';
import {
  createLocalSidecar,
  type LocalSidecar,
  type SidecarConfig,
  sidecarConfig,
} from '../../src/service/sidecar.ts';
import type { JobView } from '../../src/service/types.ts';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface Harness {
  readonly url: string;
  readonly sidecar: LocalSidecar;
  readonly app: FastifyInstance;
  readonly dataDir: string;
  close(): Promise<void>;
}

export async function startHarness(
  overrides: Partial<SidecarConfig> = {},
  options: { warm?: boolean; dataDir?: string; app?: Partial<AppOptions> } = {},
): Promise<Harness> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'stillmotion-test-'));
  const config = sidecarConfig(dataDir, { device: 'cpu', dataDirMaxBytes: 1e9, ...overrides });
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const sidecar = await createLocalSidecar(config, logger);
  const app = await buildApp({
    service: sidecar.service,
    info: {
      model: sidecar.service.model,
      ready: () => sidecar.service.ready,
      provider: () => sidecar.service.provider,
    },
    logger,
    adminToken: ADMIN_TOKEN,
    maxUploadBytes: config.maxUploadBytes,
    metrics: sidecar.metrics,
    resultFile: (id) => sidecar.service.resultFile(id),
    ...options.app,
  });
  const server = await listen(app, '127.0.0.1', 0);
  if (options.warm !== false) await sidecar.warm();
  return {
    url: server.url,
    sidecar,
    app,
    dataDir,
    async close() {
      await sidecar.service.shutdown();
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function png(width = 96, height = 64, color = { r: 200, g: 40, b: 90 }): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: color } })
    .png()
    .toBuffer();
}

/** A PNG whose header claims `width`×`height`, with no real pixel data (a decompression bomb). */
export function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.alloc(16)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A parsed JSON response body; tests read fields from it freely. */
// biome-ignore lint/suspicious/noExplicitAny: test-only view of arbitrary JSON answers
export type Body = any;

export interface PostOptions {
  readonly image?: Buffer;
  readonly filename?: string;
  readonly type?: string;
  readonly fields?: Record<string, string>;
  readonly token?: string;
}

export async function postJob(base: string, o: PostOptions = {}): Promise<{ status: number; body: Body }> {
  const form = new FormData();
  if (o.image)
    form.append(
      'image',
      new Blob([new Uint8Array(o.image)], { type: o.type ?? 'image/png' }),
      o.filename ?? 'pic.png',
    );
  for (const [k, v] of Object.entries(o.fields ?? {})) form.append(k, v);
  const res = await fetch(new URL('v1/jobs', base), {
    method: 'POST',
    body: form,
    headers: o.token ? { authorization: `Bearer ${o.token}` } : {},
  });
  return { status: res.status, body: await res.json() };
}

export async function call(
  base: string,
  method: string,
  route: string,
  o: { token?: string; json?: unknown } = {},
): Promise<{ status: number; body: Body; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(new URL(route.replace(/^\//, ''), base), {
    method,
    headers,
    body: o.json === undefined ? undefined : JSON.stringify(o.json),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

/** Resolves with the job once `predicate` holds, following the service's events. */
export function waitFor(
  sidecar: LocalSidecar,
  id: string,
  predicate: (job: JobView) => boolean,
  timeoutMs = 60_000,
): Promise<JobView> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting on job ${id}`));
    }, timeoutMs);
    const check = (job: JobView) => {
      if (!predicate(job)) return;
      clearTimeout(timer);
      off();
      resolve(job);
    };
    const off = sidecar.service.subscribe(id, check);
    void sidecar.service.get(id).then((job) => job && check(job));
  });
}

export const ended = (job: JobView) => ['succeeded', 'failed', 'canceled'].includes(job.state);
