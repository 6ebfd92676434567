/**
 * A GPU worker in redis mode: a BullMQ Worker whose concurrency is its engines (one per GPU).
 * It claims each job in the shared state (fenced by the attempt number), runs it on a warm
 * engine as the in-process service does (src/service/run-job.ts), streams progress into Redis,
 * and ends it exactly once. Cancels arrive over pub/sub and, as a
 * fallback, through the progress writes. Killed mid-job, its lock lapses and BullMQ's stalled-job
 * check hands the job to another worker; stopped with SIGTERM, it puts its jobs back first.
 */
import { readFile, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { type AnimateOptions, EngineError } from '@stillmotion/engine';
import { type Job, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { AnimateRun, EnginePort } from '../service/engine-port.ts';
import { JobAbort } from '../service/job-lifecycle.ts';
import { startProgress } from '../service/job-view.ts';
import type { ServiceMetrics } from '../service/metrics.ts';
import { type RunOutcome, type RunSink, runJob } from '../service/run-job.ts';
import { connect } from './connection.ts';
import { QUEUE_NAME } from './redis-job-service.ts';
import { describeRefusal, type Refusal, ScaleStore } from './store.ts';
import { checkStoredOptions } from './stored-options.ts';
import type { WorkerBeat } from './views.ts';

export interface ScaleWorkerOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly workerId: string;
  /** One engine per job slot (the same engine may repeat to share it). */
  readonly engines: readonly EnginePort[];
  readonly logger: Logger;
  readonly maxTries: number;
  readonly lockMs: number;
  readonly stalledMs: number;
  readonly heartbeatMs: number;
  readonly resultTtlMs: number;
  readonly limits?: { readonly maxBytes?: number; readonly maxPixels?: number };
  readonly device?: string;
  readonly metrics?: ServiceMetrics;
  readonly tmpDir?: string;
}

/** Redis refused a write because it is at `maxmemory` (noeviction). */
const isOutOfMemory = (err: unknown): boolean => /^OOM\b/.test((err as Error)?.message ?? '');
const STORE_FULL = 'the result could not be stored: the job store is full; try again later';

interface Running {
  readonly abort: AbortController;
  readonly attempt: number;
}

const EMA = 0.3;

export class ScaleWorker {
  readonly id: string;
  readonly #o: ScaleWorkerOptions;
  readonly #log: Logger;
  readonly #redis: Redis;
  readonly #sub: Redis;
  readonly #store: ScaleStore;
  readonly #free: EnginePort[];
  readonly #running = new Map<string, Running>();
  readonly #stats = { succeeded: 0, failed: 0, canceled: 0, retried: 0 };
  readonly #started = Date.now();
  #worker: Worker | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(o: ScaleWorkerOptions) {
    if (o.engines.length < 1) throw new TypeError('a worker needs at least one engine');
    this.#o = o;
    this.id = o.workerId;
    this.#log = o.logger.child({ worker: o.workerId });
    this.#redis = connect(o.redisUrl, 'worker');
    this.#sub = connect(o.redisUrl, 'subscriber');
    this.#store = new ScaleStore(this.#redis, o.prefix);
    this.#free = [...o.engines];
  }

  /** Jobs running here now. */
  get running(): number {
    return this.#running.size;
  }

  get concurrency(): number {
    return this.#o.engines.length;
  }

  async start(): Promise<void> {
    this.#sub.on('message', (_channel: string, id: string) => this.#abort(id, new JobAbort('canceled')));
    await this.#sub.subscribe(this.#store.cancelChannel);
    this.#worker = new Worker(QUEUE_NAME, (job, token) => this.#process(job, token), {
      connection: {
        url: this.#o.redisUrl,
        maxRetriesPerRequest: null,
        retryStrategy: (n) => Math.min(200 * n, 2000),
      },
      prefix: `${this.#o.prefix}:bull`,
      concurrency: this.concurrency,
      lockDuration: this.#o.lockMs,
      stalledInterval: this.#o.stalledMs,
      // Our claim counts tries and fails the job itself; BullMQ must not fail it first.
      maxStalledCount: this.#o.maxTries + 1,
      runRetryDelay: 1000,
      drainDelay: 1,
    });
    this.#worker.on('error', (err) => this.#log.warn({ err: err.message }, 'queue connection error'));
    this.#worker.on('stalled', (id) =>
      this.#log.warn({ job: id }, 'a stalled job was put back in the queue'),
    );
    await this.#worker.waitUntilReady();
    await this.#beat();
    this.#timer = setInterval(() => void this.#beat().catch(() => {}), this.#o.heartbeatMs);
    this.#timer.unref();
    this.#log.info({ concurrency: this.concurrency }, 'worker joined the queue');
  }

  /** Leaves: stops taking jobs, puts the running ones back (their try not used), and exits the queue. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#timer);
    for (const id of this.#running.keys()) this.#abort(id, new JobAbort('shutdown'));
    await this.#worker?.close();
    await this.#redis.hdel(this.#store.key('workers'), this.id).catch(() => {});
    this.#sub.disconnect();
    this.#redis.disconnect();
    this.#log.info('worker left the queue');
  }

  #abort(id: string, reason: Error): void {
    const run = this.#running.get(id);
    if (run && !run.abort.signal.aborted) {
      this.#log.info({ job: id, why: reason.message }, 'aborting job');
      run.abort.abort(reason);
    }
  }

  async #process(job: Job, token: string | undefined): Promise<void> {
    const id = job.id!;
    const log = this.#log.child({ job: id });
    const claimed = await this.#claim(id, log);
    if (!claimed) return;
    const { attempt, options, image } = claimed;
    const abort = new AbortController();
    this.#running.set(id, { abort, attempt });
    const engine = this.#free.pop()!;
    const outPath = path.join(this.#o.tmpDir ?? tmpdir(), `stillmotion-${this.id}-${id}.${options.format}`);
    let outcome: RunOutcome;
    try {
      outcome = await runJob(
        {
          id,
          engine,
          options,
          image: () => {
            if (image.length === 0)
              throw new EngineError('input_missing', 'the input picture is gone from the store');
            return image;
          },
          outPath,
          signal: abort.signal,
          limits: this.#o.limits,
          live: startProgress(options),
          log,
          startLine: { attempt },
          metrics: this.#o.metrics,
        },
        this.#sink(job, token, attempt, options, log),
      );
    } finally {
      this.#running.delete(id);
      this.#free.push(engine);
      await rm(outPath, { force: true });
    }
    // The sink moved the job back to waiting: BullMQ must not complete it.
    if (outcome === 'put_back') throw new WaitingError();
  }

  /**
   * Claims the job in the shared state (fenced by the attempt number) and checks its stored
   * options against the model; undefined when it is not to run here (the reason is logged).
   */
  async #claim(
    id: string,
    log: Logger,
  ): Promise<{ attempt: number; options: AnimateOptions; image: Buffer } | undefined> {
    const claim = await this.#persist(() =>
      this.#store.claim(id, this.id, this.#o.maxTries, this.#o.resultTtlMs),
    );
    if (claim.kind !== 'ok') {
      if (claim.kind === 'missing')
        log.warn('job not run: its record is gone from Redis (flushed, or restarted without its AOF)');
      else log.info({ claim }, 'job not run');
      if (claim.kind === 'exhausted') this.#stats.failed++;
      return undefined;
    }
    if (claim.attempt > 1) this.#stats.retried++;
    const { attempt, image } = claim;
    try {
      return { attempt, image, options: checkStoredOptions(claim.options, this.#o.engines[0].model) };
    } catch (err) {
      const why = (err as Error).message;
      const message = `the job's stored options were refused (${why}), so it was not run`;
      await this.#end(id, attempt, 'failed', message, 'bad_record');
      this.#o.metrics?.failures.inc({ reason: 'bad_record' });
      log.error({ why }, 'stored options refused (a damaged or tampered record): job failed, not run');
      return undefined;
    }
  }

  /**
   * Where a run's changes and outcome go: Redis, every write fenced by the attempt. A progress
   * write also brings back a cancel, or the news that the job is no longer this try's.
   */
  #sink(job: Job, token: string | undefined, attempt: number, options: AnimateOptions, log: Logger): RunSink {
    const id = job.id!;
    const ttl = this.#o.resultTtlMs;
    let writes = Promise.resolve();
    return {
      progress: ({ progress, encoding }) => {
        writes = writes.then(async () => {
          const r = await this.#store.progress(id, attempt, progress, encoding).catch(() => 'ok' as const);
          if (r === 'cancel') this.#abort(id, new JobAbort('canceled'));
          else if (r !== 'ok') this.#abort(id, new JobAbort('lost', describeRefusal(r)));
        });
      },
      preview: (step, data) => {
        writes = writes.then(() => this.#store.savePreview(id, step, data, ttl).catch(() => {}));
      },
      settle: () => writes,
      succeeded: (out, run) => this.#complete(id, attempt, out, { ...run, frames: options.frames }, log),
      putBack: async () => {
        const round = await this.#persist(() => this.#store.release(id, attempt));
        if (round !== undefined) await job.changePriority({ priority: Math.min(round + 1, 2_097_152) });
        if (token) await job.moveToWait(token);
        log.info('job put back in the queue (try not used)');
      },
      canceled: async () => {
        const refused = await this.#end(id, attempt, 'canceled', 'canceled while running', 'canceled');
        if (refused) log.warn(`cancel not recorded: ${describeRefusal(refused)}`);
      },
      failed: async (message, code) => {
        const refused = await this.#end(id, attempt, 'failed', message, code);
        if (refused) log.warn(`failure not recorded: ${describeRefusal(refused)}`);
      },
    };
  }

  /**
   * Stores the video and ends the job; answers its bytes, or undefined when the store refused it.
   * Redis at maxmemory throws a `store_full` failure, which runJob records as any other.
   */
  async #complete(
    id: string,
    attempt: number,
    out: AnimateRun,
    run: { readonly ms: number; readonly stepMs: readonly number[]; readonly frames: number },
    log: Logger,
  ): Promise<number | undefined> {
    const video = await readFile(out.path);
    const refused = await this.#persist(
      () => this.#store.complete(id, attempt, video, this.#o.resultTtlMs, run.ms),
      // Redis at maxmemory: fail the job with a reason instead of retrying for ever.
      (err) => {
        if (!isOutOfMemory(err)) return undefined;
        log.error({ bytes: video.length, err: (err as Error).message }, 'result could not be stored');
        return new EngineError('store_full', STORE_FULL, { cause: err });
      },
    );
    if (refused) {
      log.warn({ refused: refused.kind }, `finished, but ${describeRefusal(refused)}: result dropped`);
      return undefined;
    }
    this.#stats.succeeded++;
    await this.#recordSpeed(out.timings.total_ms, run.stepMs, run.frames).catch(() => {});
    return video.length;
  }

  /** Ends the job as this try (fenced); counts it when it landed, else answers why not. */
  async #end(
    id: string,
    attempt: number,
    state: 'failed' | 'canceled',
    message: string,
    code: string,
  ): Promise<Refusal | undefined> {
    const refused = await this.#persist(() =>
      this.#store.end(id, attempt, state, message, code, this.#o.resultTtlMs),
    );
    if (!refused) this.#stats[state]++;
    return refused;
  }

  /**
   * Writes that must land: retried while Redis is away (the job's lock lapses meanwhile at worst).
   * `fatal` turns an error that retrying cannot fix into a rejection.
   */
  async #persist<T>(fn: () => Promise<T>, fatal?: (err: unknown) => Error | undefined): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const stop = fatal?.(err);
        if (stop) throw stop;
        if (attempt === 1 || attempt % 20 === 0)
          this.#log.warn({ err: (err as Error).message, attempt }, 'redis write failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2000)));
      }
    }
  }

  /** Folds this job's measured speed into the shared estimate every producer's ETAs use. */
  async #recordSpeed(totalMs: number, stepMs: readonly number[], frames: number): Promise<void> {
    const key = this.#store.key('eta');
    const old = await this.#redis.hgetall(key);
    const fold = (prev: string | undefined, v: number) => {
      const p = Number(prev);
      return Number.isFinite(p) && p > 0 ? p + EMA * (v - p) : v;
    };
    const stepSum = stepMs.reduce((a, b) => a + b, 0);
    const fields: (string | number)[] = [
      'overhead_frame_ms',
      fold(old.overhead_frame_ms, Math.max(0, totalMs - stepSum) / frames),
    ];
    if (stepMs.length)
      fields.push('step_frame_ms', fold(old.step_frame_ms, stepSum / stepMs.length / frames));
    await this.#redis.hset(key, ...fields);
  }

  async #beat(): Promise<void> {
    const engine = this.#o.engines[0];
    const beat: WorkerBeat = {
      id: this.id,
      host: hostname(),
      pid: process.pid,
      concurrency: this.concurrency,
      running: this.#running.size,
      ...this.#stats,
      provider: engine.provider,
      model: engine.model.name,
      device: this.#o.device ?? engine.provider,
      started: this.#started,
      seen: Date.now(),
    };
    const key = this.#store.key('workers');
    await this.#redis.hset(key, this.id, JSON.stringify(beat));
    // A cancel whose pub/sub message was missed (a reconnect) still reaches the job here.
    for (const id of this.#running.keys()) {
      if ((await this.#redis.hget(this.#store.key('job', id), 'cancel')) === '1')
        this.#abort(id, new JobAbort('canceled'));
    }
    // Forget workers gone for an hour (their ids are per process).
    for (const [wid, text] of Object.entries(await this.#redis.hgetall(key))) {
      const seen = Number((JSON.parse(text) as { seen?: number }).seen);
      if (!(Date.now() - seen < 3_600_000)) await this.#redis.hdel(key, wid);
    }
  }
}
