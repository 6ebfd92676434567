/**
 * Job service benchmark on the tiny model, over real HTTP, in one process. Prints one JSON line:
 * - queue overhead per job, from sending the upload to the engine starting it (idle queue;
 *   includes multipart parsing, the header check, journaling with fsync and scheduling):
 *   median and p99 over `--overhead-jobs` sequential jobs (and the time to the 202 answer);
 * - throughput with 20 jobs from 5 users submitted at once;
 * - peak RSS of the process.
 *
 * Usage: node bench/service-bench.ts [--frames 4] [--steps 2] [--overhead-jobs 40]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SvdEngine } from '@stillmotion/engine';
import sharp from 'sharp';
import { buildApp } from '../src/http/app.ts';
import { listen } from '../src/http/server.ts';
import { createLogger } from '../src/log.ts';
import type { EnginePort } from '../src/service/engine-port.ts';
import { createLocalSidecar, sidecarConfig } from '../src/service/sidecar.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '4' },
    steps: { type: 'string', default: '2' },
    'overhead-jobs': { type: 'string', default: '40' },
  },
});
const frames = values.frames;
const steps = values.steps;
const overheadJobs = Number(values['overhead-jobs']);
const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
const TOKEN = 'service-bench-token-0123456789ab';

/** The real engine, with the moment each job reaches it recorded. */
const engineStarts = new Map<string, number>();
async function timedEngine(): Promise<EnginePort> {
  const engine = await SvdEngine.load({ device: process.env.SVD_DEVICE ?? 'cpu', logger: log });
  return {
    model: engine.model,
    provider: engine.provider,
    warmup: () => engine.warmup(),
    animate: (image, options, ctx) => {
      engineStarts.set(path.basename(ctx.outPath).split('.')[0]!, performance.now());
      return engine.animate(image, options, ctx);
    },
  };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

const dataDir = mkdtempSync(path.join(tmpdir(), 'stillmotion-bench-'));
const sidecar = await createLocalSidecar(
  sidecarConfig(dataDir, { device: 'cpu', perUser: 4, dataDirMaxBytes: 1e10 }),
  log,
  { engine: timedEngine },
);
const app = await buildApp({
  service: sidecar.service,
  info: {
    model: sidecar.service.model,
    ready: () => sidecar.service.ready,
    provider: () => sidecar.service.provider,
  },
  logger: log,
  // As the bots call it: a token names the users; no rate limit in the way of the measurement.
  adminToken: TOKEN,
  limits: { submitsPerMinute: 1_000_000 },
  metrics: sidecar.metrics,
  resultFile: (id) => sidecar.service.resultFile(id),
});
const server = await listen(app, '127.0.0.1', 0);
await sidecar.warm();

const image = await sharp({
  create: { width: 160, height: 96, channels: 3, background: { r: 90, g: 140, b: 200 } },
})
  .png()
  .toBuffer();

async function submit(
  user: string,
  seed: number,
): Promise<{ id: string; sentAt: number; answeredAt: number }> {
  const form = new FormData();
  for (const [k, v] of Object.entries({ user, frames, steps, seed: String(seed) })) form.append(k, v);
  form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'pic.png');
  const sentAt = performance.now();
  const res = await fetch(new URL('v1/jobs', server.url), {
    method: 'POST',
    body: form,
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const body = (await res.json()) as { id: string };
  if (res.status !== 202) throw new Error(`submit failed: ${res.status} ${JSON.stringify(body)}`);
  return { id: body.id, sentAt, answeredAt: performance.now() };
}

function ended(id: string): Promise<void> {
  return new Promise((resolve) => {
    const check = (state: string) => {
      if (state === 'succeeded' || state === 'failed' || state === 'canceled') {
        off();
        resolve();
      }
    };
    const off = sidecar.service.subscribe(id, (job) => check(job.state));
    void sidecar.service.get(id).then((job) => job && check(job.state));
  });
}

// 1. Queue overhead on an idle queue.
const overhead: number[] = [];
const answer: number[] = [];
for (let i = 0; i < overheadJobs; i++) {
  const { id, sentAt, answeredAt } = await submit(`web:o${i % 5}`, i);
  await ended(id);
  overhead.push(engineStarts.get(id)! - sentAt);
  answer.push(answeredAt - sentAt);
}

// 2. Throughput: 20 jobs from 5 users, all submitted at once.
const t0 = performance.now();
const jobs = await Promise.all(Array.from({ length: 20 }, (_, i) => submit(`web:u${i % 5}`, 100 + i)));
await Promise.all(jobs.map((j) => ended(j.id)));
const seconds = (performance.now() - t0) / 1000;
const states = await Promise.all(jobs.map(async (j) => (await sidecar.service.get(j.id))!.state));

await sidecar.service.shutdown();
await server.close();
rmSync(dataDir, { recursive: true, force: true });

process.stdout.write(
  `${JSON.stringify({
    model: sidecar.service.model.name,
    provider: 'cpu',
    job: { frames: Number(frames), steps: Number(steps) },
    queue_overhead_ms: {
      median: round(quantile(overhead, 0.5)),
      p99: round(quantile(overhead, 0.99)),
      n: overhead.length,
    },
    accept_202_ms: { median: round(quantile(answer, 0.5)), p99: round(quantile(answer, 0.99)) },
    throughput: {
      jobs: 20,
      users: 5,
      succeeded: states.filter((s) => s === 'succeeded').length,
      total_s: round(seconds),
      jobs_per_min: round((20 / seconds) * 60, 1),
    },
    peak_rss_mib: round(process.resourceUsage().maxRSS / 1024, 1),
  })}\n`,
);
process.exit(0);
