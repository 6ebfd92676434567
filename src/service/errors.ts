/**
 * The service's error catalog: every code it refuses with, and the HTTP status that code always
 * carries. Clients and bots branch on the codes (they are part of the API); the messages are for
 * people. Build a refusal with {@link refuse}; a code that is not here does not type-check.
 */
import type { ImageError } from '@stillmotion/engine';
import { ServiceError } from './types.ts';

export const ERROR_STATUS = {
  // 400: the request itself is wrong
  bad_user: 400,
  bad_option: 400,
  unknown_option: 400,
  bad_field: 400,
  missing_image: 400,
  missing_user: 400,
  bad_delivery: 400,
  bad_limit: 400,
  bad_quota: 400,
  bad_size: 400,
  bad_json: 400,
  too_many_files: 400,
  too_many_fields: 400,
  // 401 / 403: who may do what
  unauthorized: 401,
  forbidden: 403,
  not_owner: 403,
  cross_site: 403,
  bad_signature: 403,
  link_expired: 403,
  // 404 / 409 / 410: the job and its result
  not_found: 404,
  no_preview: 404,
  not_ready: 409,
  not_ended: 409,
  result_gone: 410,
  // 413 / 415 / 416 / 421 / 422: the upload and the request's shape
  file_too_large: 413,
  image_too_large: 413,
  field_too_large: 413,
  unsupported_media_type: 415,
  unsupported_type: 415,
  bad_range: 416,
  host_not_served: 421,
  corrupt_image: 422,
  // 429: caps, quotas and rates
  user_limit: 429,
  queue_full: 429,
  daily_quota: 429,
  rate_limited: 429,
  too_many_streams: 429,
  // 5xx: the service cannot take it now
  internal: 500,
  no_quotas: 501,
  shutting_down: 503,
  memory_budget: 503,
  queue_unavailable: 503,
  engine_unreachable: 503,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The refusal `code` with its catalog status. */
export function refuse(code: ErrorCode, message: string, extra?: { option?: string }): ServiceError {
  return new ServiceError(ERROR_STATUS[code], code, message, extra);
}

/** The service stops (or has stopped) taking work. */
export function shuttingDown(): ServiceError {
  return refuse('shutting_down', 'the service is shutting down; try again shortly');
}

/** A picture the engine refused (its codes are in the catalog; a code the catalog lacks keeps the engine's status). */
export function imageRefusal(err: ImageError): ServiceError {
  const status: number | undefined = (ERROR_STATUS as Record<string, number>)[err.code];
  return new ServiceError(status ?? err.status, err.code, err.message);
}

/** A new job would exceed a cap: the user's own (queued + running) or the queue's length. */
export function capReached(cap: 'user_limit' | 'queue_full', count: number, limit: number): ServiceError {
  return cap === 'user_limit'
    ? refuse(
        'user_limit',
        `you already have ${count} jobs queued or running (limit ${limit} per user); wait for one to finish`,
      )
    : refuse('queue_full', `the queue is full (${count} jobs waiting, limit ${limit}); try again later`);
}

export function noSuchJob(id: string): ServiceError {
  return refuse('not_found', `no job ${id}`);
}

export function notOwner(): ServiceError {
  return refuse('not_owner', 'only the person who asked for this job, or an admin, can do that');
}
