/**
 * The job service contract: what the bots, the CLI, the playground and the HTTP API need from
 * whoever owns the GPU. The in-process service, the redis-mode producer (src/scale) and the HTTP
 * client (ENGINE_URL) implement it.
 */
import type { AnimateOptions, AnimateOptionsInput } from '@stillmotion/engine';
import type { ModelSummary } from './engine-port.ts';
import type { StoredPreview } from './preview-store.ts';
import type { DailyQuotas, QuotaUsage } from './quota.ts';

export type { StoredPreview };

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

/** The states a job ends in and never leaves. */
export const TERMINAL: ReadonlySet<string> = new Set<JobState>(['succeeded', 'failed', 'canceled']);

/** Namespaced user id: `discord:<id>`, `slack:<team>:<id>`, `web:<session>`, `http:<ip>`. */
export type UserId = string;

/** Opaque to the service: where a bot posts the result (channel, thread, interaction token…). */
export type DeliveryTarget = Record<string, unknown>;

export interface JobProgress {
  readonly step: number;
  readonly steps: number;
  readonly chunk: number;
  readonly chunks: number;
}

/** The job as every client sees it (`GET /v1/jobs/:id`). */
export interface JobView {
  readonly id: string;
  readonly user: UserId;
  readonly state: JobState;
  /** 1-based place in the queue while queued; 0 otherwise. */
  readonly position: number;
  readonly progress: JobProgress;
  /** Seconds until done (queued: until start + run), from measured step times; null if unknown. */
  readonly eta_s: number | null;
  /** While queued: seconds until the job should start, from the same measurements; null if unknown. */
  readonly start_eta_s?: number | null;
  readonly error?: string;
  /** Machine-readable reason when failed: bad_input, engine_error, interrupted, … */
  readonly error_code?: string;
  readonly options: AnimateOptions;
  readonly seed: number;
  readonly delivery?: DeliveryTarget;
  readonly delivered: boolean;
  readonly created_at: number;
  /** True while the engine is encoding the video (after the last decode chunk). */
  readonly encoding?: boolean;
  readonly format: 'mp4' | 'gif';
  /** The denoising step of the latest live preview (`GET /v1/jobs/:id/preview`); absent before the first. */
  readonly preview_step?: number;
}

export interface SubmitRequest {
  readonly image: Buffer;
  readonly options: AnimateOptionsInput;
  readonly user: UserId;
  readonly delivery?: DeliveryTarget;
}

export interface QueueLimits {
  readonly per_user: number;
  readonly max_queued: number;
}

export interface QueueView {
  readonly paused: boolean;
  readonly limits: QueueLimits;
  readonly running: readonly JobView[];
  readonly queued: readonly JobView[];
}

export interface Actor {
  readonly user: UserId;
  readonly admin: boolean;
}

export interface JobService {
  /** The model's name, native size and defaults (model.json): what option defaults and help need. */
  describeModel(): Promise<ModelSummary>;
  /**
   * Optional early refusal: throws the ServiceError (429) that a new job of `user` would get from
   * the caps, so that the HTTP layer can refuse before it reads the picture. `submit` checks again.
   */
  admit?(user: UserId): Promise<void>;
  /** Validates image and options, journals the job, answers at once. Throws ServiceError on refusal. */
  submit(req: SubmitRequest): Promise<{ id: string; position: number }>;
  get(id: string): Promise<JobView | undefined>;
  list(user: UserId): Promise<readonly JobView[]>;
  /** Cancels a queued or running job; refuses (ServiceError 403) unless actor owns it or is admin. */
  cancel(id: string, actor: Actor): Promise<JobView>;
  /** Calls back with the job on every change until the job ends; returns an unsubscribe. */
  subscribe(id: string, listener: (job: JobView) => void): () => void;
  /** The latest live preview (from the first step on, during and after the job); undefined before. */
  preview(id: string): Promise<StoredPreview | undefined>;
  /** The finished video's bytes; ServiceError 409 before success. */
  result(id: string): Promise<Buffer>;
  /** Deletes the stored result (the Delete button). */
  deleteResult(id: string, actor: Actor): Promise<void>;
  markDelivered(id: string): Promise<void>;
  /** Finished jobs with a delivery target that are not yet marked delivered (for bots after a restart). */
  undelivered(): Promise<readonly JobView[]>;
  queue(): Promise<QueueView>;
  pause(): Promise<{ paused: boolean }>;
  resume(): Promise<{ paused: boolean }>;
  clear(): Promise<{ canceled: number }>;
  setLimits(limits: Partial<QueueLimits>): Promise<QueueLimits>;
  /** Changes the daily quotas at run time (admin); kept across restarts. */
  setQuotas?(quotas: Partial<DailyQuotas>): Promise<DailyQuotas>;
  /** What is left today for a user and the guild of `delivery` (see quota.ts, `guildOf`). */
  quotaLeft?(user: UserId, delivery?: DeliveryTarget): Promise<QuotaUsage>;
}

/** A refusal with an HTTP status and a user-readable message. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  readonly status: number;
  readonly code: string;
  readonly option?: string;
  constructor(status: number, code: string, message: string, extra?: { option?: string }) {
    super(message);
    this.status = status;
    this.code = code;
    this.option = extra?.option;
  }
}
