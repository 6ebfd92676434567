/**
 * Scale-out benchmark on the tiny model (CPU): its own redis-server (appendonly) and real worker
 * processes. Prints one JSON line on stdout:
 * - queue latency overhead, accept → engine start, on an idle queue: local mode (in-process
 *   service, SQLite journal) against redis mode (Redis admission + BullMQ + a worker process);
 *   median and p99 over `--latency-jobs` sequential jobs;
 * - throughput: `--jobs` jobs from `--users` users on 1 worker, then on 3 workers;
 * - recovery after `kill -9` of a worker mid-job: from the kill to the job running on another
 *   worker, with the workers' lock and stalled-check settings (`--lock-ms`, `--stalled-ms`;
 *   defaults are the production defaults, 30 s and 15 s).
 *
 * Usage: node bench/scale-bench.ts [--frames 2] [--steps 1] [--jobs 30] [--users 6]
 *        [--latency-jobs 20] [--lock-ms 30000] [--stalled-ms 15000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SvdEngine } from '@stillmotion/engine';
import { createLogger } from '../src/log.ts';
import type { EnginePort } from '../src/service/engine-port.ts';
import { createLocalSidecar, sidecarConfig } from '../src/service/sidecar.ts';
import type { JobService } from '../src/service/types.ts';
import {
  liveWorkers,
  png,
  spawnWorker,
  startProducer,
  stopWorker,
  until,
  type WorkerProc,
} from '../test/scale/harness.ts';
import { RedisServer } from '../test/scale/redis-server.ts';

const { values } = parseArgs({
  options: {
    frames: { type: 'string', default: '2' },
    steps: { type: 'string', default: '1' },
    jobs: { type: 'string', default: '30' },
    users: { type: 'string', default: '6' },
    'latency-jobs': { type: 'string', default: '20' },
    'lock-ms': { type: 'string', default: '30000' },
    'stalled-ms': { type: 'string', default: '15000' },
  },
});
const options = { frames: Number(values.frames), steps: Number(values.steps) };
const jobs = Number(values.jobs);
const users = Number(values.users);
const latencyJobs = Number(values['latency-jobs']);
const workerEnv = {
  WORKER_LOCK_MS: values['lock-ms']!,
  WORKER_STALLED_MS: values['stalled-ms']!,
  WORKER_HEARTBEAT_MS: '500',
};
const log = createLogger(process.env.LOG_LEVEL ?? 'warn');
const note = (msg: string) => process.stderr.write(`scale-bench: ${msg}\n`);
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
};
const stats = (xs: number[]) => ({ median: quantile(xs, 0.5), p99: quantile(xs, 0.99), n: xs.length });
const TERMINAL = ['succeeded', 'failed', 'canceled'];
const image = await png();

async function waitEnded(service: JobService, ids: string[]): Promise<void> {
  await until(
    'jobs to end',
    async () =>
      (await Promise.all(ids.map((id) => service.get(id)))).every((v) => v && TERMINAL.includes(v.state)),
    600_000,
  );
}

/** Local mode: the in-process service with the engine start recorded. */
async function localLatency(): Promise<number[]> {
  const starts = new Map<string, number>();
  const engine = await SvdEngine.load({ device: 'cpu', logger: log });
  const timed: EnginePort = {
    model: engine.model,
    provider: engine.provider,
    warmup: () => engine.warmup(),
    animate: (img, o, ctx) => {
      starts.set(path.basename(ctx.outPath).split('.')[0]!, Date.now());
      return engine.animate(img, o, ctx);
    },
  };
  const dataDir = mkdtempSync(path.join(tmpdir(), 'stillmotion-scale-bench-'));
  const sidecar = await createLocalSidecar(
    sidecarConfig(dataDir, { device: 'cpu', resultTtlMs: 3_600_000, dataDirMaxBytes: 1e10 }),
    log,
    { engine: async () => timed },
  );
  await sidecar.warm();
  const out: number[] = [];
  for (let i = 0; i < latencyJobs; i++) {
    const t0 = Date.now();
    const { id } = await sidecar.service.submit({ image, options, user: 'web:bench' });
    await waitEnded(sidecar.service, [id]);
    out.push(starts.get(id)! - t0);
  }
  await sidecar.service.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
  return out;
}

const redis = new RedisServer();
await redis.start();
const producer = await startProducer(redis.url, 3, 1000);
const service = producer.service;
const workers: WorkerProc[] = [];
const join = async (id: string) => {
  workers.push(spawnWorker(redis.url, id, workerEnv));
  await until(`${id} to join`, async () => (await liveWorkers(service)).includes(id), 120_000);
};

async function throughput(): Promise<{ seconds: number; jobs_per_s: number }> {
  await service.setLimits({ per_user: Math.ceil(jobs / users) });
  await service.pause();
  const ids: string[] = [];
  for (let u = 0; u < users; u++) {
    for (let i = 0; i < jobs / users; i++)
      ids.push((await service.submit({ image, options, user: `web:u${u}` })).id);
  }
  const t0 = performance.now();
  await service.resume();
  await waitEnded(service, ids);
  const seconds = (performance.now() - t0) / 1000;
  await service.setLimits({ per_user: 3 });
  return {
    seconds: Math.round(seconds * 100) / 100,
    jobs_per_s: Math.round((ids.length / seconds) * 1000) / 1000,
  };
}

try {
  note('local mode latency');
  const local = await localLatency();
  note('redis mode: 1 worker');
  await join('bench-w1');
  const redisLatency: number[] = [];
  for (let i = 0; i < latencyJobs; i++) {
    const t0 = Date.now();
    const { id } = await service.submit({ image, options, user: 'web:bench' });
    await waitEnded(service, [id]);
    redisLatency.push((await service.store.job(id))!.startedAt! - t0);
  }
  const one = await throughput();
  note('redis mode: 3 workers');
  await join('bench-w2');
  await join('bench-w3');
  const three = await throughput();

  note('kill -9 of a worker mid-job');
  const { id } = await service.submit({ image, options: { frames: 8, steps: 30 }, user: 'web:kill' });
  const running = await until('the long job to run', async () => {
    const j = await service.store.job(id);
    return j?.state === 'running' && (j.progress?.step ?? 0) >= 1 ? j : undefined;
  });
  const victim = workers.find((w) => w.id === running.worker)!;
  const killedAt = Date.now();
  victim.proc.kill('SIGKILL');
  const retried = await until(
    'the job to run elsewhere',
    async () => {
      const j = await service.store.job(id);
      return j?.attempts === 2 && j.state === 'running' ? j : undefined;
    },
    600_000,
  );
  await waitEnded(service, [id]);
  const final = (await service.store.job(id))!;

  const l = stats(local);
  const r = stats(redisLatency);
  process.stdout.write(
    `${JSON.stringify({
      bench: 'scale',
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      model: service.model.name,
      options,
      latency_ms: { local: l, redis: r, overhead_median: r.median - l.median, overhead_p99: r.p99 - l.p99 },
      throughput: {
        jobs,
        users,
        one_worker: one,
        three_workers: three,
        speedup: Math.round((three.jobs_per_s / one.jobs_per_s) * 100) / 100,
      },
      recovery: {
        ms: retried.startedAt! - killedAt,
        lock_ms: Number(workerEnv.WORKER_LOCK_MS),
        stalled_ms: Number(workerEnv.WORKER_STALLED_MS),
        final_state: final.state,
        ends: final.ends,
        attempts: final.attempts,
      },
    })}\n`,
  );
} finally {
  await Promise.all(workers.map((w) => stopWorker(w, 'SIGKILL')));
  await producer.closeAll();
  await redis.destroy();
}
