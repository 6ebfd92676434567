/**
 * The job service in redis mode (QUEUE_BACKEND=redis): the bots, the playground and the HTTP API
 * are producers. A job is admitted atomically into the shared state (caps, fair round, picture),
 * then handed to one BullMQ queue with its round as priority; GPU workers anywhere take it from
 * there (src/scale/worker.ts). Events come back over Redis pub/sub. Same contract, same states
 * and same refusals as the in-process service, through the same submit checks, ownership and
 * views (src/service/job-lifecycle.ts); while Redis is away every call answers a 503 "queue
 * unavailable" ServiceError, and the connections come back by themselves.
 */
import { type AnimateOptions, resolveOptions } from '@stillmotion/engine';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from '../log.ts';
import type { InspectImage, ModelSummary } from '../service/engine-port.ts';
import { capReached, noSuchJob, refuse } from '../service/errors.ts';
import { type Following, followJob } from '../service/follow-job.ts';
import { ownedJob } from '../service/job-lifecycle.ts';
import { EMPTY_PROGRESS, queueView } from '../service/job-view.ts';
import {
  checkQuotas,
  type DailyQuotas,
  guildOf,
  type QuotaUsage,
  quotaRefusal,
  quotaResetAt,
  quotasLeft,
  utcDay,
} from '../service/quota.ts';
import { checkLimits, checkSubmission, checkUser, imageLimits, newJobId } from '../service/submit-checks.ts';
import {
  type Actor,
  type DeliveryTarget,
  type JobService,
  type JobView,
  type QueueLimits,
  type QueueView,
  type StoredPreview,
  type SubmitRequest,
  TERMINAL,
  type UserId,
} from '../service/types.ts';
import { asServiceError, connect, QueueUnavailableError, withTimeout } from './connection.ts';
import { JobEvents } from './job-events.ts';
import { type AdmitResult, ScaleStore, type StoredJob } from './store.ts';

import { readSnapshot, type ScaleSnapshot, toView } from './views.ts';

const MB = 1_000_000;

export interface RedisJobServiceOptions {
  readonly redisUrl: string;
  /** Key prefix of the shared state; BullMQ's keys live under `<prefix>:bull`. */
  readonly prefix?: string;
  readonly model: ModelSummary;
  readonly inspectImage: InspectImage;
  readonly logger: Logger;
  /** Defaults until an admin sets limits (they are then shared by every producer). */
  readonly limits: QueueLimits;
  readonly maxUploadBytes?: number;
  readonly maxPixels?: number;
  readonly resultTtlMs?: number;
  /** How often queued jobs are checked for a missing BullMQ job (default 10 s). */
  readonly reconcileEveryMs?: number;
  /** Bytes that pictures and results may take in Redis; admission stops before (0: no budget). */
  readonly memoryBudgetBytes?: number;
  /** Bytes kept free in the budget for each waiting or running job's result. */
  readonly resultReserveBytes?: number;
  /** Daily quotas until an admin sets them (0: none). */
  readonly quotas?: DailyQuotas;
  /** How often watched jobs are re-read, so a vanished one still ends its watchers (default 2 s). */
  readonly watchPollMs?: number;
}

export const QUEUE_NAME = 'animate';

export class RedisJobService implements JobService {
  readonly model: ModelSummary;
  readonly store: ScaleStore;
  readonly queueName = QUEUE_NAME;
  readonly #redis: Redis;
  readonly #events: JobEvents;
  readonly #queue: Queue;
  readonly #o: RedisJobServiceOptions;
  readonly #log: Logger;
  readonly #ttlMs: number;
  readonly #fallbackOptions: AnimateOptions;
  #timer: NodeJS.Timeout | undefined;
  #lastSnap: ScaleSnapshot | undefined;
  #closed = false;

  constructor(o: RedisJobServiceOptions) {
    this.#o = o;
    this.model = o.model;
    this.#log = o.logger;
    this.#ttlMs = o.resultTtlMs ?? 86_400_000;
    const prefix = o.prefix ?? 'stillmotion';
    this.#redis = connect(o.redisUrl, 'producer');
    // Stand-in options for a damaged record (its view still shows, failed with a reason).
    const fallbackOptions = resolveOptions({ seed: 0 }, o.model);
    this.#fallbackOptions = fallbackOptions;
    this.store = new ScaleStore(this.#redis, prefix, {
      fallbackOptions,
      ttlMs: this.#ttlMs,
      onDamaged: (id, fields) =>
        this.#log.error(
          { job: id, fields },
          'damaged job record in Redis: job failed with a reason, skipped',
        ),
    });
    this.#queue = new Queue(QUEUE_NAME, {
      connection: this.#redis,
      prefix: `${prefix}:bull`,
      defaultJobOptions: { attempts: 1, removeOnComplete: true, removeOnFail: { age: 86_400 } },
    });
    this.#queue.on('error', (err) => this.#log.debug({ err: err.message }, 'queue connection error'));
    this.#events = new JobEvents(
      connect(o.redisUrl, 'subscriber'),
      this.store.eventsChannel,
      (ids) => this.#viewsOf(ids),
      this.#log,
      (id) => this.#placeholder(id),
      o.watchPollMs,
    );
    this.#redis.on('ready', () => void this.reconcile().catch(() => {}));
    this.#redis.on('end', () => this.#log.warn('redis connection ended'));
    const every = o.reconcileEveryMs ?? 10_000;
    this.#timer = setInterval(() => void this.#tick().catch(() => {}), Math.min(every, 2000));
    this.#timer.unref();
    let ticks = 0;
    this.#tickReconcile = () => ++ticks % Math.max(1, Math.round(every / 2000)) === 0;
  }

  readonly #tickReconcile: () => boolean;

  /** True while Redis answers and at least one worker is up (what /readyz reports). */
  get ready(): boolean {
    return this.connected && (this.#lastSnap?.workers.length ?? 0) > 0;
  }

  get connected(): boolean {
    return this.#redis.status === 'ready';
  }

  /** The providers of the live workers, e.g. `cuda` or `cpu,cuda`. */
  get provider(): string | undefined {
    const names = [...new Set(this.#lastSnap?.workers.map((w) => w.provider) ?? [])].sort();
    return names.length ? names.join(',') : undefined;
  }

  /** Waits for the first connection (or throws after `ms`). */
  async waitConnected(ms = 10_000): Promise<void> {
    await withTimeout(this.#queue.waitUntilReady(), ms, 'connecting to Redis');
    await this.#tick();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#queue.close().catch(() => {});
    this.#events.close();
    this.#redis.disconnect();
  }

  async describeModel(): Promise<ModelSummary> {
    return this.model;
  }

  /** A cheap refusal before the upload is read: the caps as they stand (submit checks them again). */
  async admit(user: UserId): Promise<void> {
    checkUser(user, this.#closed);
    this.#requireConnection();
    this.#refuse(await this.#guard(() => this.store.checkCaps(user, this.#o.limits)), Date.now());
  }

  /** Throws the refusal an admission answered; returns when it was admitted. */
  #refuse(r: AdmitResult, now: number): asserts r is Extract<AdmitResult, { kind: 'ok' }> {
    if (r.kind === 'ok') return;
    if (r.kind === 'daily_quota_user' || r.kind === 'daily_quota_guild')
      throw quotaRefusal(r.kind === 'daily_quota_user' ? 'user' : 'guild', r.limit, now);
    if (r.kind === 'memory_budget') {
      this.#log.warn({ used: r.count, budget: r.limit }, 'redis memory budget reached: job refused');
      throw refuse(
        'memory_budget',
        `the job store is full: pictures and results use ${(r.count / MB).toFixed(1)} MB of its ${(r.limit / MB).toFixed(0)} MB memory budget (REDIS_MEMORY_BUDGET_MB); try again later`,
      );
    }
    throw capReached(r.kind, r.count, r.limit);
  }

  async submit(req: SubmitRequest): Promise<{ id: string; position: number }> {
    const { options } = await checkSubmission(req, {
      model: this.model,
      inspect: this.#o.inspectImage,
      limits: imageLimits(this.#o),
      closed: () => this.#closed,
    });
    this.#requireConnection();
    const id = newJobId();
    const now = Date.now();
    const admitted = await this.#guard(() =>
      this.store.admit({
        id,
        user: req.user,
        now,
        options,
        delivery: req.delivery,
        image: req.image,
        defaults: this.#o.limits,
        listTtlMs: this.#ttlMs * 2,
        memoryBudget: this.#o.memoryBudgetBytes,
        resultReserve: this.#o.resultReserveBytes,
        quotas: {
          user: this.#o.quotas?.user ?? 0,
          guild: this.#o.quotas?.guild ?? 0,
          guildId: guildOf(req.user, req.delivery),
          day: utcDay(now),
          // Kept a day past its reset, so a late reader still sees the count.
          ttlMs: quotaResetAt(now) - now + 86_400_000,
        },
      }),
    );
    this.#refuse(admitted, now);
    try {
      await this.#addToQueue(id, admitted.round);
    } catch (err) {
      // Not handed to BullMQ: undo, so the caller's 503 is the truth. If even that fails, the job
      // is recorded and the reconciler hands it over later, so it was accepted after all.
      const undone = await this.store.forget(id).catch(() => false);
      this.#log.warn({ job: id, undone, err: (err as Error).message }, 'could not queue an admitted job');
      if (undone) throw new QueueUnavailableError(err);
    }
    this.#log.info({ job: id, user: req.user, position: admitted.position, options }, 'job accepted');
    return { id, position: admitted.position };
  }

  async get(id: string): Promise<JobView | undefined> {
    return this.#guard(async () => {
      const job = await this.store.job(id);
      return job ? toView(job, await this.#snapshot()) : undefined;
    });
  }

  async list(user: UserId): Promise<readonly JobView[]> {
    return this.#guard(async () => {
      const key = this.store.key('user-jobs', user);
      const ids = await this.#redis.zrevrange(key, 0, 49);
      return this.#views(ids, (gone) => this.#redis.zrem(key, ...gone));
    });
  }

  async cancel(id: string, actor: Actor): Promise<JobView> {
    const job = await this.#owned(id, actor);
    if (TERMINAL.has(job.state)) return (await this.get(id))!;
    const where = await this.#guard(() => this.store.cancel(id, 'canceled while waiting', this.#ttlMs));
    if (where === 'queued') await this.#removeFromQueue(id);
    if (where === 'running') await this.#waitEnded(id, 30_000);
    this.#log.info({ job: id, by: actor.user, admin: actor.admin, where }, 'job canceled');
    return (await this.get(id))!;
  }

  subscribe(id: string, listener: (job: JobView) => void): () => void {
    return this.#events.subscribe(id, listener);
  }

  async preview(id: string): Promise<StoredPreview | undefined> {
    const [job, data] = await this.#guard(() => Promise.all([this.store.job(id), this.store.preview(id)]));
    if (!job || !data || !job.previewStep) return undefined;
    return { step: job.previewStep, type: 'image/webp', data };
  }

  async result(id: string): Promise<Buffer> {
    const job = await this.#guard(() => this.store.job(id));
    if (!job) throw noSuchJob(id);
    if (job.state !== 'succeeded') throw refuse('not_ready', `job ${id} is ${job.state}, not succeeded`);
    const bytes = await this.#guard(() => this.store.result(id));
    if (!bytes) throw refuse('result_gone', `the result of job ${id} was deleted or expired`);
    return bytes;
  }

  async deleteResult(id: string, actor: Actor): Promise<void> {
    await this.#owned(id, actor);
    await this.#guard(() => this.store.deleteResult(id));
    this.#log.info({ job: id, by: actor.user }, 'result deleted');
  }

  async markDelivered(id: string): Promise<void> {
    if (!(await this.#guard(() => this.store.markDelivered(id)))) throw noSuchJob(id);
  }

  async undelivered(): Promise<readonly JobView[]> {
    return this.#guard(async () => {
      const key = this.store.key('undelivered');
      const ids = await this.#redis.smembers(key);
      const views = await this.#views(ids, (gone) => this.#redis.srem(key, ...gone));
      return views
        .filter((v) => TERMINAL.has(v.state) && !v.delivered)
        .sort((a, b) => a.created_at - b.created_at);
    });
  }

  async queue(): Promise<QueueView> {
    return this.#guard(async () => {
      const snap = await this.#snapshot();
      return queueView(snap, (id) => {
        const job = snap.active.get(id);
        return job && toView(job, snap);
      });
    });
  }

  async pause(): Promise<{ paused: boolean }> {
    await this.#guard(async () => {
      await withTimeout(this.#queue.pause(), 5000, 'pausing the queue');
      await this.#redis.hset(this.store.key('settings'), 'paused', '1');
    });
    this.#log.info('queue paused');
    return { paused: true };
  }

  async resume(): Promise<{ paused: boolean }> {
    await this.#guard(async () => {
      await this.#redis.hset(this.store.key('settings'), 'paused', '0');
      await withTimeout(this.#queue.resume(), 5000, 'resuming the queue');
    });
    this.#log.info('queue resumed');
    return { paused: false };
  }

  async clear(): Promise<{ canceled: number }> {
    const canceled = await this.#guard(async () => {
      const ids = await this.#redis.zrange(this.store.key('queued'), 0, -1);
      let n = 0;
      for (const id of ids) {
        if ((await this.store.cancel(id, 'canceled: an admin cleared the queue', this.#ttlMs)) !== 'queued')
          continue;
        n++;
        await this.#removeFromQueue(id);
      }
      return n;
    });
    this.#log.info({ canceled }, 'queue cleared');
    return { canceled };
  }

  async setLimits(limits: Partial<QueueLimits>): Promise<QueueLimits> {
    checkLimits(limits);
    const next = await this.#guard(async () => {
      const fields: string[] = [];
      if (limits.per_user !== undefined) fields.push('per_user', String(limits.per_user));
      if (limits.max_queued !== undefined) fields.push('max_queued', String(limits.max_queued));
      if (fields.length) await this.#redis.hset(this.store.key('settings'), ...fields);
      return (await this.#snapshot()).limits;
    });
    this.#log.info({ limits: next }, 'queue limits changed');
    return next;
  }

  async setQuotas(quotas: Partial<DailyQuotas>): Promise<DailyQuotas> {
    checkQuotas(quotas);
    const fields: string[] = [];
    if (quotas.user !== undefined) fields.push('quota_user', String(quotas.user));
    if (quotas.guild !== undefined) fields.push('quota_guild', String(quotas.guild));
    const next = await this.#guard(async () => {
      if (fields.length) await this.#redis.hset(this.store.key('settings'), ...fields);
      return this.#currentQuotas();
    });
    this.#log.info({ quotas: next }, 'daily quotas changed');
    return next;
  }

  async quotaLeft(user: UserId, delivery?: DeliveryTarget): Promise<QuotaUsage> {
    return this.#guard(async () =>
      quotasLeft(await this.#currentQuotas(), (day, key) => this.store.quotaUsed(day, key), user, delivery),
    );
  }

  async #currentQuotas(): Promise<DailyQuotas> {
    const [user, guild] = await this.#redis.hmget(this.store.key('settings'), 'quota_user', 'quota_guild');
    return {
      user: user === null ? (this.#o.quotas?.user ?? 0) : Number(user),
      guild: guild === null ? (this.#o.quotas?.guild ?? 0) : Number(guild),
    };
  }

  /**
   * Hands every waiting job that has no BullMQ job (its producer died between admission and the
   * add) to the queue. Safe to run anywhere, any time: adding an existing job id is a no-op, and a
   * job is only re-added while it is still waiting.
   */
  async reconcile(minAgeMs = 5000): Promise<number> {
    if (!this.connected) return 0;
    const queued = await this.#redis.zrange(this.store.key('queued'), 0, -1);
    await this.#dropGhosts(queued);
    let added = 0;
    for (const job of await this.store.jobs(queued)) {
      if (job?.state !== 'queued' || Date.now() - job.createdAt < minAgeMs) continue;
      if ((await this.#redis.exists(this.#queue.toKey(job.id))) === 1) continue;
      if ((await this.store.job(job.id))?.state !== 'queued') continue;
      await this.#addToQueue(job.id, job.round);
      added++;
      this.#log.warn({ job: job.id }, 'waiting job had no queue entry: queued it again');
    }
    return added;
  }

  /**
   * Waiting and running ids whose record is gone (a partly lost store) are dropped from the
   * shared sets, so they hold no place and no slot; their users' caps are freed at admission.
   */
  async #dropGhosts(queued: readonly string[]): Promise<void> {
    const running = await this.#redis.smembers(this.store.key('running'));
    const ids = [...queued, ...running];
    if (ids.length === 0) return;
    const pipe = this.#redis.pipeline();
    for (const id of ids) pipe.exists(this.store.key('job', id));
    const out = (await pipe.exec()) ?? [];
    const ghosts = ids.filter((_, i) => out[i]?.[1] === 0);
    if (ghosts.length === 0) return;
    await this.#redis
      .multi()
      .zrem(this.store.key('queued'), ...ghosts)
      .srem(this.store.key('running'), ...ghosts)
      .exec();
    this.#log.warn({ jobs: ghosts }, 'queue entries without a job record dropped');
  }

  /** A fresh picture of the shared queue and the live workers (for metrics). */
  async snapshot(): Promise<ScaleSnapshot> {
    return this.#guard(() => this.#snapshot());
  }

  /** BullMQ's own job counts (for metrics). */
  async bullCounts(): Promise<Record<string, number>> {
    return this.#guard(() =>
      withTimeout(
        this.#queue.getJobCounts('prioritized', 'waiting', 'active', 'delayed', 'failed'),
        5000,
        'reading queue counts',
      ),
    );
  }

  /** Jobs whose changes someone in this producer watches now (none may leak). */
  get watched(): number {
    return this.#events.watched;
  }

  /** The last snapshot read (for metrics), refreshed every 2 s. */
  get lastSnapshot(): ScaleSnapshot | undefined {
    return this.#lastSnap;
  }

  // ---------------------------------------------------------------------------------------------

  async #tick(): Promise<void> {
    if (!this.connected) return;
    await this.#snapshot();
    if (this.#tickReconcile()) await this.reconcile();
  }

  async #snapshot(): Promise<ScaleSnapshot> {
    this.#lastSnap = await readSnapshot(this.store, this.#o.limits);
    return this.#lastSnap;
  }

  #requireConnection(): void {
    if (!this.connected) throw new QueueUnavailableError(new Error(`redis is ${this.#redis.status}`));
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    this.#requireConnection();
    try {
      return await fn();
    } catch (err) {
      throw asServiceError(err);
    }
  }

  async #addToQueue(id: string, round: number): Promise<void> {
    await withTimeout(
      this.#queue.add('animate', { id }, { jobId: id, priority: Math.min(round + 1, 2_097_152) }),
      5000,
      'adding the job to the queue',
    );
  }

  /** Best effort: a job a worker already holds is skipped by its claim (the job is canceled). */
  async #removeFromQueue(id: string): Promise<void> {
    await this.#queue.remove(id).catch(() => 0);
  }

  async #views(ids: readonly string[], dropGone: (gone: string[]) => Promise<unknown>): Promise<JobView[]> {
    const views = await this.#viewsOf(ids);
    const gone = ids.filter((_, i) => !views[i]);
    if (gone.length) await dropGone(gone);
    return views.filter((v): v is JobView => v !== undefined);
  }

  /** The views of the ids, in order; undefined where the record is gone. */
  async #viewsOf(ids: readonly string[]): Promise<(JobView | undefined)[]> {
    const jobs = await this.store.jobs(ids);
    const snap = await this.#snapshot();
    return jobs.map((j) => j && toView(j, snap));
  }

  /** What a watcher is told about a job that vanished before it was ever read. */
  #placeholder(id: string): JobView {
    const options = this.#fallbackOptions;
    return {
      id,
      user: '',
      state: 'failed',
      position: 0,
      progress: EMPTY_PROGRESS,
      eta_s: 0,
      options,
      seed: options.seed,
      delivered: false,
      created_at: 0,
      format: options.format,
    };
  }

  async #owned(id: string, actor: Actor): Promise<StoredJob> {
    return ownedJob(await this.#guard(() => this.store.job(id)), id, actor);
  }

  /** Resolves once the job has ended, or after `ms`. */
  #waitEnded(id: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let following: Following | undefined;
      const done = (): void => {
        clearTimeout(timer);
        following?.stop();
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      following = followJob(this, id, (v) => TERMINAL.has(v.state) && done());
      following.current.catch(done);
    });
  }
}
