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
}

export type ClaimResult =
  | {
      readonly kind: 'ok';
      readonly attempt: number;
      readonly options: AnimateOptions;
      readonly image: Buffer;
    }
  | { readonly kind: 'ended'; readonly state: string }
  | { readonly kind: 'exhausted'; readonly tries: number }
  | { readonly kind: 'missing' };

export type AdmitResult =
  | { readonly kind: 'ok'; readonly round: number; readonly position: number }
  | { readonly kind: 'user_limit' | 'queue_full'; readonly count: number; readonly limit: number };

type Script = (...args: (string | number | Buffer)[]) => Promise<unknown>;

const num = (v: string | undefined): number | undefined =>
  v === undefined || v === '' ? undefined : Number(v);

export function parseJob(h: Record<string, string>): StoredJob | undefined {
  if (!h.id || !h.state) return undefined;
  return {
    id: h.id,
    user: h.user,
    state: h.state as JobState,
    options: JSON.parse(h.options) as AnimateOptions,
    ...(h.delivery ? { delivery: JSON.parse(h.delivery) as DeliveryTarget } : {}),
    delivered: h.delivered === '1',
    format: (h.format === 'gif' ? 'gif' : 'mp4') as 'mp4' | 'gif',
    createdAt: Number(h.created_at),
    round: Number(h.round ?? 0),
    attempts: Number(h.attempts ?? 0),
    ...(h.worker ? { worker: h.worker } : {}),
    startedAt: num(h.started_at),
    firstStartedAt: num(h.first_started_at),
    endedAt: num(h.ended_at),
    startSeq: num(h.start_seq),
    ...(h.error ? { error: h.error, errorCode: h.error_code } : {}),
    ...(h.progress ? { progress: JSON.parse(h.progress) as JobProgress } : {}),
    encoding: h.encoding === '1',
    resultBytes: num(h.result_bytes),
    resultGone: h.result_gone === '1',
    previewStep: Number(h.preview_step ?? 0),
    ends: Number(h.ends ?? 0),
  };
}

export class ScaleStore {
  readonly prefix: string;
  readonly redis: Redis;

  constructor(redis: Redis, prefix: string) {
    this.redis = redis;
    this.prefix = prefix;
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
    )) as [string, number, number];
    if (out[0] === 'ok') return { kind: 'ok', round: Number(out[1]), position: Number(out[2]) };
    return { kind: out[0] as 'user_limit' | 'queue_full', count: Number(out[1]), limit: Number(out[2]) };
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
      return {
        kind,
        attempt: Number(out[1]),
        options: JSON.parse(out[2].toString()) as AnimateOptions,
        image: out[3],
      };
    }
    if (kind === 'ended') return { kind, state: out[1].toString() };
    if (kind === 'exhausted') return { kind, tries: Number(out[1]) };
    return { kind: 'missing' };
  }

  /** Returns 'cancel' when a cancel was asked, 'lost' when the job is no longer this attempt's. */
  async progress(
    id: string,
    attempt: number,
    progress: JobProgress,
    encoding: boolean,
  ): Promise<'ok' | 'cancel' | 'lost'> {
    const r = Number(
      await this.#script('smProgress')(
        this.prefix,
        id,
        attempt,
        JSON.stringify(progress),
        encoding ? '1' : '0',
      ),
    );
    return r === 1 ? 'cancel' : r === -1 ? 'lost' : 'ok';
  }

  async complete(id: string, attempt: number, video: Buffer, ttlMs: number, runMs: number): Promise<boolean> {
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
    return Number(r) === 1;
  }

  async end(
    id: string,
    attempt: number,
    state: 'failed' | 'canceled',
    message: string,
    code: string,
    ttlMs: number,
  ): Promise<boolean> {
    const r = await this.#script('smEnd')(this.prefix, id, attempt, Date.now(), ttlMs, state, message, code);
    return Number(r) === 1;
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
    return parseJob(await this.redis.hgetall(this.key('job', id)));
  }

  async jobs(ids: readonly string[]): Promise<(StoredJob | undefined)[]> {
    if (ids.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hgetall(this.key('job', id));
    const out = (await pipe.exec()) ?? [];
    return out.map(([err, h]) => {
      if (err) throw err;
      return parseJob(h as Record<string, string>);
    });
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
