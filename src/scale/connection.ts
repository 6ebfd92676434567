/**
 * Redis connections for the scale-out mode, and the one error producers answer while Redis is
 * away. Producers fail fast (no offline queue, a command timeout) so a submission gets a clear
 * 503 at once; every client reconnects by itself, so service comes back with Redis.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { ERROR_STATUS } from '../service/errors.ts';
import { ServiceError } from '../service/types.ts';

export type ConnectionRole = 'producer' | 'subscriber' | 'worker';

const retryStrategy = (times: number): number => Math.min(200 * times, 2000);

export function redisOptions(role: ConnectionRole): RedisOptions {
  const base: RedisOptions = { retryStrategy, lazyConnect: false, connectionName: `stillmotion-${role}` };
  if (role === 'producer') {
    return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 5000 };
  }
  // Workers wait for Redis rather than fail: BullMQ needs maxRetriesPerRequest null.
  return { ...base, maxRetriesPerRequest: null };
}

export function connect(url: string, role: ConnectionRole): Redis {
  const client = new Redis(url, redisOptions(role));
  // Errors surface on the commands; the 'error' event alone would crash the process if unheard.
  client.on('error', () => {});
  return client;
}

export class QueueUnavailableError extends ServiceError {
  override name = 'QueueUnavailableError';
  constructor(cause: unknown) {
    super(
      ERROR_STATUS.queue_unavailable,
      'queue_unavailable',
      'queue unavailable: the job queue (Redis) cannot be reached right now; try again shortly',
    );
    this.cause = cause;
  }
}

/** Refusals pass through; anything else from Redis means the queue is unavailable. */
export function asServiceError(err: unknown): ServiceError {
  if (err instanceof ServiceError) return err;
  return new QueueUnavailableError(err);
}

/** Rejects after `ms`: BullMQ calls wait for a connection instead of failing fast. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
