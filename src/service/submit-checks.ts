/**
 * What a submission must pass before any store takes it, in this order, in both services: the
 * service is open, the user id is namespaced, the picture passes its header check (type, bytes,
 * pixels), the options resolve against the model. Then each store admits the job its own way
 * (quotas and caps: the journal and the fair queue locally, one atomic script in Redis).
 */
import { randomBytes } from 'node:crypto';
import { type AnimateOptions, ImageError, OptionError, resolveOptions } from '@stillmotion/engine';
import type { ImageLimits, ImageMeta, InspectImage, ModelSummary } from './engine-port.ts';
import { imageRefusal, refuse, shuttingDown } from './errors.ts';
import type { QueueLimits, SubmitRequest, UserId } from './types.ts';

const USER_ID = /^[a-z]+:\S{1,200}$/;

/** The default upload limits (MAX_UPLOAD_MB, MAX_PIXELS). */
export function imageLimits(o: { maxUploadBytes?: number; maxPixels?: number }): Required<ImageLimits> {
  return { maxBytes: o.maxUploadBytes ?? 20_000_000, maxPixels: o.maxPixels ?? 40_000_000 };
}

/** 503 while the service stops, 400 for a user id that is not `<namespace>:<id>`. */
export function checkUser(user: UserId, closed: boolean): void {
  if (closed) throw shuttingDown();
  if (typeof user !== 'string' || !USER_ID.test(user)) {
    throw refuse('bad_user', 'user must be a namespaced id such as discord:123 or web:abc', {
      option: 'user',
    });
  }
}

export interface SubmitContext {
  readonly model: ModelSummary;
  readonly inspect: InspectImage;
  readonly limits: ImageLimits;
  /** Whether the service has started to stop (asked before and after the asynchronous checks). */
  readonly closed: () => boolean;
}

export interface CheckedSubmission {
  readonly meta: ImageMeta;
  readonly options: AnimateOptions;
}

/** Runs the checks every submission passes, in their order; throws the refusal of the first that fails. */
export async function checkSubmission(req: SubmitRequest, ctx: SubmitContext): Promise<CheckedSubmission> {
  checkUser(req.user, ctx.closed());
  let checked: CheckedSubmission;
  try {
    const meta = await ctx.inspect(req.image, ctx.limits);
    checked = { meta, options: resolveOptions(req.options, ctx.model) };
  } catch (err) {
    if (err instanceof ImageError) throw imageRefusal(err);
    if (err instanceof OptionError) throw refuse('bad_option', err.message, { option: err.option });
    throw err;
  }
  // The checks are asynchronous: the service may have started to stop meanwhile.
  if (ctx.closed()) throw shuttingDown();
  return checked;
}

/** A new job id: 12 URL-safe characters. */
export function newJobId(): string {
  return randomBytes(9).toString('base64url');
}

/** An admin's change of the caps: each given limit a whole number ≥ 1. */
export function checkLimits(limits: Partial<QueueLimits>): void {
  for (const [name, value] of Object.entries(limits)) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw refuse('bad_limit', `${name} must be a whole number ≥ 1 (got ${value})`, { option: name });
    }
  }
}
