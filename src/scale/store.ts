/**
 * Typed access to the shared job state in Redis (keys under one prefix; see README.md). Producers
 * and workers both use it; the state changes go through the atomic scripts in lua.ts.
 */
import type { AnimateOptions } from '@stillmotion/engine';
import type { Redis } from 'ioredis';
import type { DeliveryTarget, JobProgress, JobState, QueueLimits } from '../service/types.ts';
import { SCRIPTS } from './lua.ts';

/** One job as stored in its hash `<prefix>:job:<id>`. */
export interface StoredJob {
  readonly id: string;
  readonly user: string;
  readonly state: JobState;
  readonly options: AnimateOptions;
  readonly delivery?: DeliveryTarget;
  readonly delivered: boolean;
  readonly format: 'mp4' | 'gif';
  readonly createdAt: number;
  readonly round: number;
  readonly attempts: number;
  readonly worker?: string;
  readonly startedAt?: number;
  readonly firstStartedAt?: number;
  readonly endedAt?: number;
  readonly startSeq?: number;
  readonly error?: string;
  readonly errorCode?: string;
  readonly progress?: JobProgress;
  readonly encoding: boolean;
  readonly resultBytes?: number;
  readonly resultGone: boolean;
  /** The step of the latest live preview (key `preview:<id>`); 0 before the first. */
  readonly previewStep: number;
  /** How many times the job ended (1 once it did: the exactly-once check). */
  readonly ends: number;
  /** Fields that could not be read (a damaged or tampered record); their stand-ins are defaults. */
  readonly damaged?: readonly string[];
}

/** Why a worker's write was refused: the record is gone, the job ended meanwhile, or another try holds it. */
export type Refusal =
  | { readonly kind: 'gone' }
  | { readonly kind: 'ended'; readonly state: string }
  | { readonly kind: 'taken'; readonly attempt: number };

function refusal(raw: string): Refusal | undefined {
  if (raw === 'ok') return undefined;
  if (raw === 'gone') return { kind: 'gone' };
  if (raw.startsWith('ended:')) return { kind: 'ended', state: raw.slice(6) };
  return { kind: 'taken', attempt: Number(raw.slice(6)) };
}

/** The refusal in words, for the worker's log. */
export function describeRefusal(r: Refusal): string {
  if (r.kind === 'gone') return "the job's record is gone from Redis (flushed, or restarted without its AOF)";
  if (r.kind === 'ended') return `the job was ${r.state} meanwhile`;
  return `the job was handed to another worker (now on try ${r.attempt})`;
}

export type ClaimResult =
  | {
      readonly kind: 'ok';
      readonly attempt: number;
      /** As stored: the worker checks it against the option table before running it. */
      readonly options: unknown;
      readonly image: Buffer;
    }
  | { readonly kind: 'ended'; readonly state: string }
  | { readonly kind: 'exhausted'; readonly tries: number }
  | { readonly kind: 'missing' };

export type AdmitResult =
  | { readonly kind: 'ok'; readonly round: number; readonly position: number }
  | { readonly kind: AdmitRefusal; readonly count: number; readonly limit: number };

export type AdmitRefusal =
  | 'user_limit'
  | 'queue_full'
  | 'memory_budget'
  | 'daily_quota_user'
  | 'daily_quota_guild';

const STATES = new Set(['queued', 'running', 'succeeded', 'failed', 'canceled']);

type Script = (...args: (string | number | Buffer)[]) => Promise<unknown>;

const num = (v: string | undefined): number | undefined =>
  v === undefined || v === '' ? undefined : Number(v);

/** Parses a JSON object field; undefined (and the field named in `damaged`) when it is not one. */
function jsonField<T>(h: Record<string, string>, name: string, damaged: string[]): T | undefined {
  const text = h[name];
  if (text === undefined || text === '') return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) return v as T;
  } catch {}
  damaged.push(name);
  return undefined;
}

/**
 * A stored job, read defensively: a field that cannot be read is named in `damaged` and replaced
 * by a stand-in (`fallbackOptions` for the options), so one bad record never breaks a listing.
 * Undefined when there is no record, or its options are unreadable and no stand-in was given.
 */
export function parseJob(h: Record<string, string>, fallbackOptions?: AnimateOptions): StoredJob | undefined {
  if (!h.id || !h.state) return undefined;
  const damaged: string[] = [];
  if (!STATES.has(h.state)) damaged.push('state');
  if (!h.user) damaged.push('user');
  if (!Number.isFinite(Number(h.created_at))) damaged.push('created_at');
  const options = jsonField<AnimateOptions>(h, 'options', damaged) ?? fallbackOptions;
  if (!options) return undefined;
  if (options === fallbackOptions && !damaged.includes('options')) damaged.push('options');
  const delivery = jsonField<DeliveryTarget>(h, 'delivery', damaged);
  const progress = jsonField<JobProgress>(h, 'progress', damaged);
  return {
    id: h.id,
    user: h.user ?? '',
    state: (STATES.has(h.state) ? h.state : 'failed') as JobState,
    options,
    ...(delivery ? { delivery } : {}),
    delivered: h.delivered === '1',
    format: (h.format === 'gif' ? 'gif' : 'mp4') as 'mp4' | 'gif',
    createdAt: Number(h.created_at) || 0,
    round: Number(h.round ?? 0),
    attempts: Number(h.attempts ?? 0),
    ...(h.worker ? { worker: h.worker } : {}),
    startedAt: num(h.started_at),
    firstStartedAt: num(h.first_started_at),
    endedAt: num(h.ended_at),
    startSeq: num(h.start_seq),
    ...(h.error ? { error: h.error, errorCode: h.error_code } : {}),
    ...(progress ? { progress } : {}),
    encoding: h.encoding === '1',
    resultBytes: num(h.result_bytes),
    resultGone: h.result_gone === '1',
    previewStep: Number(h.preview_step ?? 0),
    ends: Number(h.ends ?? 0),
    ...(damaged.length ? { damaged } : {}),
  };
}

export interface StoreOptions {
  /** Stand-in options for a record whose own are unreadable (the model's defaults). */
  readonly fallbackOptions?: AnimateOptions;
  /** Told once when a waiting or running job with a damaged record was failed. */
  readonly onDamaged?: (id: string, fields: readonly string[]) => void;
  /** How long ended records live, for damaged jobs failed on read (default 24 h). */
  readonly ttlMs?: number;
}

export const DAMAGED_MESSAGE =
  "the job's stored record was damaged, so it was not run; please submit it again";

export class ScaleStore {
  readonly prefix: string;
  readonly redis: Redis;
  readonly #o: StoreOptions;

  constructor(redis: Redis, prefix: string, options: StoreOptions = {}) {
    this.redis = redis;
    this.prefix = prefix;
    this.#o = options;
    for (const [name, lua] of Object.entries(SCRIPTS)) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    }
  }

  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  get eventsChannel(): string {
    return this.key('events');
  }

  get cancelChannel(): string {
    return this.key('cancel');
  }

  #script(name: keyof typeof SCRIPTS, buffers = false): Script {
    const r = this.redis as unknown as Record<string, Script>;
    const fn = r[buffers ? `${name}Buffer` : name];
    return fn.bind(this.redis);
  }

  /** The per-user and queue caps alone, before the picture is read (admit checks them again). */
  async checkCaps(user: string, defaults: QueueLimits): Promise<AdmitResult> {
    const out = (await this.#script('smCheckCaps')(
      this.prefix,
      user,
      defaults.per_user,
      defaults.max_queued,
    )) as [string, number, number];
    if (out[0] === 'ok') return { kind: 'ok', round: 0, position: 0 };
    return { kind: out[0] as AdmitRefusal, count: Number(out[1]), limit: Number(out[2]) };
  }

  async admit(a: {
    id: string;
    user: string;
    now: number;
    options: AnimateOptions;
    delivery?: DeliveryTarget;
    image: Buffer;
    defaults: QueueLimits;
    bypassCaps?: boolean;
    listTtlMs: number;
    /** Bytes that pictures and results may take in Redis (0 or unset: no budget). */
    memoryBudget?: number;
    /** Bytes kept free for each waiting or running job's result. */
    resultReserve?: number;
    /** Daily quotas (defaults until an admin sets them), the job's guild, today's UTC day. */
    quotas?: { user: number; guild: number; guildId?: string; day: string; ttlMs: number };
  }): Promise<AdmitResult> {
    const out = (await this.#script('smAdmit')(
      this.prefix,
      a.id,
      a.user,
      a.now,
      JSON.stringify(a.options),
      a.delivery ? JSON.stringify(a.delivery) : '',
      a.options.format,
      a.image,
      a.defaults.per_user,
      a.defaults.max_queued,
      a.bypassCaps ? '1' : '0',
      a.listTtlMs,
      a.memoryBudget ?? 0,
      a.resultReserve ?? 0,
      a.quotas?.user ?? 0,
      a.quotas?.guildId ?? '',
      a.quotas?.guild ?? 0,
      a.quotas?.day ?? '',
      a.quotas?.ttlMs ?? 1,
    )) as [string, number, number];
    if (out[0] === 'ok') return { kind: 'ok', round: Number(out[1]), position: Number(out[2]) };
    return {
      kind: out[0] as AdmitRefusal,
      count: Number(out[1]),
      limit: Number(out[2]),
    };
  }

  async claim(id: string, worker: string, maxTries: number, ttlMs: number): Promise<ClaimResult> {
    const out = (await this.#script('smClaim', true)(
      this.prefix,
      id,
      worker,
      Date.now(),
      maxTries,
      ttlMs,
    )) as Buffer[];
    const kind = out[0].toString();
    if (kind === 'ok') {
      let options: unknown;
      try {
        options = JSON.parse(out[2].toString());
      } catch {
        options = undefined;
      }
      return { kind, attempt: Number(out[1]), options, image: out[3] };
    }
    if (kind === 'ended') return { kind, state: out[1].toString() };
    if (kind === 'exhausted') return { kind, tries: Number(out[1]) };
    return { kind: 'missing' };
  }

  /** Returns 'cancel' when a cancel was asked, 'ok', or why the job is no longer this attempt's. */
  async progress(
    id: string,
    attempt: number,
    progress: JobProgress,
    encoding: boolean,
  ): Promise<'ok' | 'cancel' | Refusal> {
    const r = String(
      await this.#script('smProgress')(
        this.prefix,
        id,
        attempt,
        JSON.stringify(progress),
        encoding ? '1' : '0',
      ),
    );
    return r === 'cancel' ? 'cancel' : (refusal(r) ?? 'ok');
  }

  /** Stores the result and ends the job; undefined when it landed, else why it was refused. */
  async complete(
    id: string,
    attempt: number,
    video: Buffer,
    ttlMs: number,
    runMs: number,
  ): Promise<Refusal | undefined> {
    const r = await this.#script('smComplete')(
      this.prefix,
      id,
      attempt,
      Date.now(),
      ttlMs,
      video,
      video.length,
      Math.round(runMs),
    );
    return refusal(String(r));
  }

  async end(
    id: string,
    attempt: number,
    state: 'failed' | 'canceled',
    message: string,
    code: string,
    ttlMs: number,
  ): Promise<Refusal | undefined> {
    const r = await this.#script('smEnd')(this.prefix, id, attempt, Date.now(), ttlMs, state, message, code);
    return refusal(String(r));
  }

  /** Fails a waiting or running job whose record is damaged; true if it did (it had not ended). */
  async failDamaged(id: string, fields: readonly string[], ttlMs: number): Promise<boolean> {
    const blank = fields.filter((f) => f === 'delivery' || f === 'progress').join(' ');
    const r = await this.#script('smFailDamaged')(this.prefix, id, Date.now(), ttlMs, DAMAGED_MESSAGE, blank);
    return Number(r) === 1;
  }

  async deleteResult(id: string): Promise<void> {
    await this.#script('smDeleteResult')(this.prefix, id);
  }

  /** Today's count for a quota key (`user:<id>` or `guild:<id>`). */
  async quotaUsed(day: string, key: string): Promise<number> {
    return Number(await this.redis.get(this.key('quota', day, key))) || 0;
  }

  /** Bytes of pictures and results held in Redis (what the memory budget counts). */
  async memory(): Promise<{ inputs: number; results: number }> {
    const [inputs, results] = await this.redis.hmget(this.key('mem'), 'inputs', 'results');
    return { inputs: Number(inputs) || 0, results: Number(results) || 0 };
  }

  /** Puts a running job back first in line; answers its new round, or undefined when fenced off. */
  async release(id: string, attempt: number): Promise<number | undefined> {
    const round = Number(await this.#script('smRelease')(this.prefix, id, attempt));
    return round >= 0 ? round : undefined;
  }

  async cancel(
    id: string,
    reason: string,
    ttlMs: number,
  ): Promise<'queued' | 'running' | 'ended' | 'unknown'> {
    return (await this.#script('smCancel')(this.prefix, id, Date.now(), ttlMs, reason)) as
      | 'queued'
      | 'running'
      | 'ended'
      | 'unknown';
  }

  async forget(id: string): Promise<boolean> {
    return Number(await this.#script('smForget')(this.prefix, id)) === 1;
  }

  async markDelivered(id: string): Promise<boolean> {
    return Number(await this.#script('smDelivered')(this.prefix, id)) === 1;
  }

  async job(id: string): Promise<StoredJob | undefined> {
    return (await this.jobs([id]))[0];
  }

  /**
   * The jobs, in order (undefined where there is no record). A waiting or running job whose
   * record is damaged is failed with a reason on the way (and reported to `onDamaged`), so it
   * is never run and never blocks the rest.
   */
  async jobs(ids: readonly string[]): Promise<(StoredJob | undefined)[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.key('job', id));
    const out = (await pipe.exec()) ?? [];
    const jobs = out.map(([err, h]) => {
      if (err) throw err;
      return parseJob(h as Record<string, string>, this.#o.fallbackOptions);
    });
    return Promise.all(
      jobs.map(async (job) => {
        if (!job?.damaged || (job.state !== 'queued' && job.state !== 'running')) return job;
        if (await this.failDamaged(job.id, job.damaged, this.#o.ttlMs ?? 86_400_000))
          this.#o.onDamaged?.(job.id, job.damaged);
        return parseJob(await this.redis.hgetall(this.key('job', job.id)), this.#o.fallbackOptions);
      }),
    );
  }

  /** Stores the latest live preview for `ttlMs`, notes its step on the job and tells the producers. */
  async savePreview(id: string, step: number, data: Buffer, ttlMs: number): Promise<void> {
    await this.redis
      .multi()
      .set(this.key('preview', id), data, 'PX', Math.max(1, Math.round(ttlMs)))
      .hset(this.key('job', id), 'preview_step', step)
      .publish(this.eventsChannel, `${id} progress`)
      .exec();
  }

  async preview(id: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key('preview', id));
  }

  async result(id: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.key('result', id));
  }
}
