/**
 * The in-process job service: journals every job before answering, queues it fairly on the
 * {@link LocalBackend}, runs it on the engine, and tells subscribers about every change. What a
 * job is (the submit checks, ownership, the run, the view) it shares with redis mode
 * (`job-lifecycle.ts`); its own are where state lives (the journal and files under DATA_DIR) and
 * how work is handed out (a fair queue in this process).
 *
 * Recovery on open: queued jobs are queued again; a job found `running` (the process died under
 * it) is retried once, then failed. On shutdown the running job goes back to the queue without
 * using up its retry.
 */
import { EventEmitter } from 'node:events';
import { readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { EngineError, formatOptions } from '@stillmotion/engine';
import type { Logger } from '../log.ts';
import { sweep } from './cleanup.ts';
import type { EnginePort, InspectImage, ModelSummary } from './engine-port.ts';
import { noSuchJob, refuse } from './errors.ts';
import { EtaEstimator } from './eta.ts';
import { ownedJob } from './job-lifecycle.ts';
import {
  EMPTY_PROGRESS,
  jobView,
  type LiveProgress,
  type QueueSnapshot,
  queueView,
  startProgress,
  type ViewContext,
} from './job-view.ts';
import type { JobRecord, Journal } from './journal.ts';
import type { BackendJob, LocalBackend } from './local-backend.ts';
import type { ServiceMetrics } from './metrics.ts';
import { PreviewStore, type StoredPreview } from './preview-store.ts';
import { checkQuotas, type DailyQuotas, type QuotaUsage, quotasLeft, takeQuotas } from './quota.ts';
import { type RecoveryReport, recoverJournal } from './recovery.ts';
import { type RunSink, runJob } from './run-job.ts';
import { checkSubmission, checkUser, imageLimits, newJobId } from './submit-checks.ts';
import {
  type Actor,
  type DeliveryTarget,
  type JobService,
  type JobView,
  type QueueLimits,
  type QueueView,
  type SubmitRequest,
  TERMINAL,
  type UserId,
} from './types.ts';

export interface LocalJobServiceOptions {
  readonly journal: Journal;
  readonly backend: LocalBackend<BackendJob>;
  readonly model: ModelSummary;
  readonly inspectImage: InspectImage;
  readonly logger: Logger;
  readonly metrics?: ServiceMetrics;
  readonly concurrency?: number;
  readonly maxUploadBytes?: number;
  readonly maxPixels?: number;
  readonly resultTtlMs?: number;
  readonly dataDirMaxBytes?: number;
  /** Daily quotas until an admin changes them (0: none). */
  readonly quotas?: DailyQuotas;
}

export class LocalJobService implements JobService {
  readonly model: ModelSummary;
  readonly #journal: Journal;
  readonly #backend: LocalBackend<BackendJob>;
  readonly #inspect: InspectImage;
  readonly #log: Logger;
  readonly #metrics: ServiceMetrics | undefined;
  readonly #eta = new EtaEstimator();
  readonly #events = new EventEmitter();
  readonly #live = new Map<string, LiveProgress>();
  readonly #previews: PreviewStore;
  readonly #ended = new Map<string, { promise: Promise<void>; resolve: () => void }>();
  readonly #concurrency: number;
  readonly #limits: { maxBytes: number; maxPixels: number };
  readonly #cleanup: { ttlMs: number; maxBytes: number };
  #engine: EnginePort | undefined;
  #cleanupTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onClose: (() => void)[] = [];
  #quotas: DailyQuotas;

  constructor(options: LocalJobServiceOptions) {
    this.model = options.model;
    this.#journal = options.journal;
    this.#backend = options.backend;
    this.#inspect = options.inspectImage;
    this.#log = options.logger;
    this.#metrics = options.metrics;
    this.#concurrency = options.concurrency ?? 1;
    this.#limits = imageLimits(options);
    this.#cleanup = { ttlMs: options.resultTtlMs ?? 86_400_000, maxBytes: options.dataDirMaxBytes ?? 10e9 };
    this.#quotas = { user: 0, guild: 0, ...options.quotas, ...options.journal.getQuotas() };
    this.#events.setMaxListeners(0);
    this.#previews = new PreviewStore(path.join(this.#journal.dir, 'previews'));
    if (this.#metrics) {
      this.#metrics.depthSource = async () => {
        const snap = await this.#backend.snapshot();
        return { queued: snap.queued.length, running: snap.running.length };
      };
    }
  }

  /** True once an engine is attached (warm-up done) and jobs can start. */
  get ready(): boolean {
    return this.#engine !== undefined;
  }

  get provider(): string | undefined {
    return this.#engine?.provider;
  }

  /**
   * Reads the journal back after a restart and queues what was accepted. Call once, before
   * taking new submissions. Also applies the persisted pause and runs a first cleanup.
   */
  async open(): Promise<RecoveryReport> {
    const settings = this.#journal.getSettings();
    if (settings.paused) await this.#backend.pause();
    // Limits an admin set at run time outlive a restart (the environment gives the first ones).
    if (settings.limits) {
      await this.#backend.setLimits(settings.limits).catch((err: unknown) => {
        this.#log.error({ err, limits: settings.limits }, 'saved queue limits are not valid: ignored');
      });
    }
    const report = await recoverJournal(this.#journal, this.#backend, this.#log, (rec) => {
      this.#finishFiles(rec);
      this.#metrics?.failures.inc({ reason: 'interrupted' });
    });
    this.runCleanup();
    return report;
  }

  /** Attaches the warmed-up engine and starts taking jobs from the queue. */
  attach(engine: EnginePort, warmupMs?: number): void {
    this.#engine = engine;
    if (warmupMs !== undefined && !this.#eta.known) {
      // The warm-up runs one step on 2 frames at native size: a first, pessimistic estimate.
      this.#eta.recordStep(warmupMs / 2, 2);
    }
    this.#metrics?.provider.set({ provider: engine.provider, model: engine.model.name }, 1);
    this.#backend.start((job, ctx) => this.#run(job, ctx.signal));
  }

  /** Runs the TTL / size-cap sweep every `everyMs` (unref'd). */
  startCleanup(everyMs = Math.min(this.#cleanup.ttlMs / 4, 600_000)): void {
    this.#cleanupTimer = setInterval(() => this.runCleanup(), Math.max(everyMs, 1000));
    this.#cleanupTimer.unref();
  }

  runCleanup(now = Date.now()): void {
    const active = new Set(this.#journal.listByState('queued', 'running').map((j) => j.id));
    const report = sweep(this.#journal, this.#cleanup, active, now);
    const previews = this.#previews.prune((id) => this.#journal.get(id) !== undefined);
    if (report.expired || report.evicted || report.orphans || previews)
      this.#log.info({ ...report, previews }, 'cleanup');
  }

  /**
   * Stops taking jobs; the running ones are aborted and put back in the queue without using
   * their retry. Then closes the journal.
   */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#cleanupTimer);
    await this.#backend.stop();
    this.#journal.close();
    for (const fn of this.#onClose) fn();
  }

  /** Runs after {@link shutdown} closed the journal (releases the DATA_DIR lock). */
  onClose(fn: () => void): void {
    this.#onClose.push(fn);
  }

  async describeModel(): Promise<ModelSummary> {
    return this.model;
  }

  async admit(user: UserId): Promise<void> {
    checkUser(user, this.#closed);
    await this.#backend.checkCaps(user);
  }

  async submit(req: SubmitRequest): Promise<{ id: string; position: number }> {
    const { meta, options } = await checkSubmission(req, {
      model: this.model,
      inspect: this.#inspect,
      limits: this.#limits,
      closed: () => this.#closed,
    });
    takeQuotas(this.#quotas, req.user, req.delivery, (day, limits) => this.#journal.takeQuota(day, limits));
    const id = newJobId();
    this.#journal.insert({
      id,
      user: req.user,
      options,
      image: req.image,
      imageExt: meta.format.replace(/[^a-z0-9]/gi, '') || 'img',
      delivery: req.delivery,
    });
    let position: number;
    try {
      ({ position } = await this.#backend.enqueue({ id, user: req.user }));
    } catch (err) {
      const rec = this.#journal.get(id);
      if (rec?.inputPath) rmSync(rec.inputPath, { force: true });
      this.#journal.delete(id);
      throw err;
    }
    this.#metrics?.accepted.inc();
    this.#log.info({ job: id, user: req.user, position, options }, 'job accepted');
    this.#notifyQueued();
    return { id, position };
  }

  async get(id: string): Promise<JobView | undefined> {
    const rec = this.#journal.get(id);
    return rec ? this.#view(rec, await this.#backend.snapshot()) : undefined;
  }

  async list(user: UserId): Promise<readonly JobView[]> {
    const snap = await this.#backend.snapshot();
    return this.#journal.listByUser(user).map((r) => this.#view(r, snap));
  }

  async cancel(id: string, actor: Actor): Promise<JobView> {
    const rec = this.#owned(id, actor);
    if (TERMINAL.has(rec.state)) return (await this.get(id))!;
    const where = await this.#backend.cancel(id);
    if (where === 'queued') {
      this.#endCanceled(rec, 'canceled while waiting');
    } else if (where === 'running') {
      await Promise.race([this.#ended.get(id)?.promise, new Promise((r) => setTimeout(r, 30_000).unref())]);
    }
    this.#log.info({ job: id, by: actor.user, admin: actor.admin, where }, 'job canceled');
    return (await this.get(id))!;
  }

  subscribe(id: string, listener: (job: JobView) => void): () => void {
    const key = `job:${id}`;
    this.#events.on(key, listener);
    return () => this.#events.off(key, listener);
  }

  async preview(id: string): Promise<StoredPreview | undefined> {
    return this.#previews.get(id);
  }

  async result(id: string): Promise<Buffer> {
    const file = this.resultFile(id);
    try {
      return readFileSync(file.path);
    } catch {
      throw refuse('result_gone', `the result of job ${id} is no longer on disk`);
    }
  }

  /** Where the result lives on disk (for streaming), after the same checks as {@link result}. */
  resultFile(id: string): { path: string; bytes: number; format: 'mp4' | 'gif' } {
    const rec = this.#journal.get(id);
    if (!rec) throw noSuchJob(id);
    if (rec.state !== 'succeeded') throw refuse('not_ready', `job ${id} is ${rec.state}`);
    if (!rec.resultPath) throw refuse('result_gone', `the result of job ${id} was deleted or expired`);
    let bytes: number;
    try {
      bytes = statSync(rec.resultPath).size;
    } catch {
      throw refuse('result_gone', `the result of job ${id} is no longer on disk`);
    }
    return { path: rec.resultPath, bytes, format: rec.options.format };
  }

  async deleteResult(id: string, actor: Actor): Promise<void> {
    const rec = this.#owned(id, actor);
    if (rec.resultPath) rmSync(rec.resultPath, { force: true });
    this.#journal.clearResult(id);
    this.#previews.delete(id);
    this.#log.info({ job: id, by: actor.user }, 'result deleted');
  }

  async markDelivered(id: string): Promise<void> {
    if (!this.#journal.markDelivered(id)) throw noSuchJob(id);
  }

  async undelivered(): Promise<readonly JobView[]> {
    const snap = await this.#backend.snapshot();
    return this.#journal.undelivered().map((r) => this.#view(r, snap));
  }

  async queue(): Promise<QueueView> {
    const snap = await this.#backend.snapshot();
    return queueView(snap, (id) => {
      const rec = this.#journal.get(id);
      return rec && this.#view(rec, snap);
    });
  }

  async pause(): Promise<{ paused: boolean }> {
    await this.#backend.pause();
    this.#journal.saveSetting('paused', true);
    this.#log.info('queue paused');
    return { paused: true };
  }

  async resume(): Promise<{ paused: boolean }> {
    await this.#backend.resume();
    this.#journal.saveSetting('paused', false);
    this.#log.info('queue resumed');
    return { paused: false };
  }

  async clear(): Promise<{ canceled: number }> {
    const ids = await this.#backend.clear();
    for (const id of ids) {
      const rec = this.#journal.get(id);
      if (rec) this.#endCanceled(rec, 'canceled: an admin cleared the queue');
    }
    this.#log.info({ canceled: ids.length }, 'queue cleared');
    return { canceled: ids.length };
  }

  async setLimits(limits: Partial<QueueLimits>): Promise<QueueLimits> {
    const next = await this.#backend.setLimits(limits);
    this.#journal.saveSetting('limits', next);
    this.#log.info({ limits: next }, 'queue limits changed');
    return next;
  }

  async setQuotas(quotas: Partial<DailyQuotas>): Promise<DailyQuotas> {
    checkQuotas(quotas);
    this.#quotas = {
      user: quotas.user ?? this.#quotas.user,
      guild: quotas.guild ?? this.#quotas.guild,
    };
    this.#journal.saveSetting('quotas', this.#quotas);
    this.#log.info({ quotas: this.#quotas }, 'daily quotas changed');
    return this.#quotas;
  }

  async quotaLeft(user: UserId, delivery?: DeliveryTarget): Promise<QuotaUsage> {
    return quotasLeft(this.#quotas, (day, key) => this.#journal.quotaUsed(day, key), user, delivery);
  }

  // ---------------------------------------------------------------------------------------------

  #owned(id: string, actor: Actor): JobRecord {
    return ownedJob(this.#journal.get(id), id, actor);
  }

  #view(rec: JobRecord, snap: QueueSnapshot): JobView {
    const ctx: ViewContext<JobRecord> = {
      queued: snap.queued,
      running: snap.running,
      eta: this.#eta,
      slots: this.#concurrency,
      job: (id) => this.#journal.get(id),
      progress: (job) => this.#live.get(job.id)?.progress ?? EMPTY_PROGRESS,
      encoding: (job) => this.#live.get(job.id)?.encoding ?? false,
      previewStep: (job) => this.#previews.step(job.id),
    };
    return jobView(rec, ctx);
  }

  /** Runs one job on the engine; never throws (every outcome is journaled). */
  async #run(job: BackendJob, signal: AbortSignal): Promise<void> {
    let ended!: () => void;
    this.#ended.set(job.id, { promise: new Promise<void>((r) => (ended = r)), resolve: () => ended() });
    const rec = this.#journal.markRunning(job.id);
    const live = startProgress(rec.options);
    this.#live.set(job.id, live);
    this.#emit(job.id);
    this.#notifyQueued();
    try {
      await runJob(
        {
          id: job.id,
          engine: this.#engine!,
          options: rec.options,
          image: () => this.#readInput(rec),
          outPath: path.join(this.#journal.resultsDir, `${job.id}.${rec.options.format}`),
          signal,
          limits: this.#limits,
          live,
          log: this.#log.child({ job: job.id }),
          // One line at the start and one at the end of every job: id (the child's `job`), user, options, time.
          line: { user: rec.user, options: formatOptions(rec.options) },
          startLine: { attempt: rec.attempts, waited_s: Math.round((Date.now() - rec.createdAt) / 100) / 10 },
          metrics: this.#metrics,
        },
        this.#sink(rec),
      );
    } finally {
      this.#live.delete(job.id);
      this.#previews.settle(job.id);
      this.#emit(job.id);
      this.#ended.get(job.id)?.resolve();
      this.#ended.delete(job.id);
    }
  }

  /** A run's changes and outcome go to the journal, the files under DATA_DIR and the subscribers. */
  #sink(rec: JobRecord): RunSink {
    const { id, options } = rec;
    return {
      progress: (_live, e) => {
        if (e.stage === 'denoise') this.#eta.recordStep(e.stepMs, options.frames);
        this.#emit(id);
      },
      preview: (step, data) => {
        this.#previews.put(id, step, data);
        this.#emit(id);
      },
      succeeded: async (out) => {
        const bytes = out.bytes ?? statSync(out.path).size;
        const stepSum = out.timings.unet_step_ms.reduce((a, b) => a + b, 0);
        this.#eta.recordJob(out.timings.total_ms, stepSum, options.frames);
        this.#journal.markSucceeded(id, out.path, bytes);
        this.#finishFiles(rec);
        return bytes;
      },
      putBack: async () => {
        this.#journal.requeue(id, true);
        this.#log.info({ job: id }, 'job put back in the queue for the next start (retry not used)');
      },
      canceled: async () => this.#endCanceled(rec, 'canceled while running'),
      failed: async (message, code) => {
        this.#journal.markEnded(id, 'failed', message, code);
        this.#finishFiles(rec);
      },
    };
  }

  #readInput(rec: JobRecord): Buffer {
    const lost = () =>
      new EngineError(
        'input_missing',
        'the uploaded picture was lost from the service’s disk; please send it again',
      );
    if (!rec.inputPath) throw lost();
    try {
      return readFileSync(rec.inputPath);
    } catch (err) {
      this.#log.error({ job: rec.id, err }, 'cannot read the input picture');
      throw lost();
    }
  }

  #endCanceled(rec: JobRecord, reason: string): void {
    this.#journal.markEnded(rec.id, 'canceled', reason, 'canceled');
    this.#finishFiles(rec);
    this.#emit(rec.id);
    this.#notifyQueued();
  }

  /** Input pictures are deleted when a job ends. */
  #finishFiles(rec: JobRecord): void {
    if (rec.inputPath) rmSync(rec.inputPath, { force: true });
    this.#journal.clearInput(rec.id);
  }

  #emit(id: string): void {
    const key = `job:${id}`;
    if (this.#events.listenerCount(key) === 0) return;
    void this.get(id).then((view) => {
      if (!view) return;
      this.#events.emit(key, view);
      // The contract ends with the job: drop listeners a caller forgot to remove.
      if (TERMINAL.has(view.state)) this.#events.removeAllListeners(key);
    });
  }

  /** Positions and ETAs of waiting jobs move whenever the queue does. */
  #notifyQueued(): void {
    void this.#backend.snapshot().then((snap) => {
      for (const id of snap.queued) this.#emit(id);
    });
  }
}
