/**
 * One delivery-recovery policy for every chat platform, so that nothing is dropped and nothing is
 * posted twice:
 * - at start, every finished job of the platform not yet marked delivered is posted, and the
 *   platform's jobs still waiting or running are followed again;
 * - then every `sweepMs` the finished, undelivered ones are looked for again, so a delivery that
 *   failed (the platform down, an upload refused) is retried without a restart;
 * - after `maxAttempts` failed tries the user is told (the platform's way) and the job is marked
 *   delivered, so a result that can never be posted stops being retried.
 * Jobs in `active` (followed or being delivered by this process) are left alone.
 */
import type { Logger } from 'pino';
import type { JobService, JobView } from '../service/types.ts';

/** What a platform does for the policy. */
export interface RecoveryPlatform {
  /** Whether the job's delivery target is this platform's. */
  readonly owns: (job: JobView) => boolean;
  /** Posts a finished job's result and marks it delivered; throws if it could not. */
  readonly deliver: (job: JobView) => Promise<void>;
  /** Follows a waiting or running job to its end and delivers it, in the background. */
  readonly follow: (job: JobView) => void;
  /** The last try failed: tell the user. The job is marked delivered afterwards. */
  readonly giveUp: (job: JobView, attempts: number) => Promise<unknown>;
}

export interface RecoveryOptions {
  readonly logger: Logger;
  /** Prefix of the log messages: `slack`, `discord`. */
  readonly label: string;
  /** Jobs this process is following or delivering (shared with the adapter's own flows). */
  readonly active: Set<string>;
  /** Tries before the user is told and the job marked delivered. @default 5 */
  readonly maxAttempts?: number;
  /** How often finished, undelivered jobs are looked for again. @default 30000 */
  readonly sweepMs?: number;
}

/** Tries a delivery gets before the user is told it failed. */
export const MAX_DELIVERY_ATTEMPTS = 5;

export class DeliveryRecovery {
  readonly #service: Pick<JobService, 'undelivered' | 'queue' | 'markDelivered'>;
  readonly #platform: RecoveryPlatform;
  readonly #o: RecoveryOptions;
  readonly #failures = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #sweeping = false;

  constructor(
    service: Pick<JobService, 'undelivered' | 'queue' | 'markDelivered'>,
    platform: RecoveryPlatform,
    options: RecoveryOptions,
  ) {
    this.#service = service;
    this.#platform = platform;
    this.#o = options;
  }

  /** At start: posts what finished meanwhile, follows what still waits or runs. */
  async resume(): Promise<{ delivered: number; followed: number }> {
    const delivered = await this.deliverFinished();
    const followed = await this.followWaiting();
    return { delivered, followed };
  }

  /** Posts finished, undelivered jobs; a failure stays undelivered for the next sweep. */
  async deliverFinished(): Promise<number> {
    let delivered = 0;
    const { active } = this.#o;
    for (const job of await this.#service.undelivered()) {
      if (!this.#platform.owns(job) || active.has(job.id)) continue;
      active.add(job.id);
      try {
        await this.#platform.deliver(job);
        this.#failures.delete(job.id);
        delivered++;
      } catch (err) {
        await this.#failed(job, err);
      } finally {
        active.delete(job.id);
      }
    }
    return delivered;
  }

  /** Follows the platform's jobs that wait or run without a follower. */
  async followWaiting(): Promise<number> {
    let queue: Awaited<ReturnType<JobService['queue']>>;
    try {
      queue = await this.#service.queue();
    } catch (err) {
      // A remote sidecar (ENGINE_URL) lists the queue only with STILLMOTION_ADMIN_TOKEN; such jobs
      // are then delivered by a sweep once they finish.
      this.#o.logger.warn(
        { err: String(err) },
        `${this.#o.label}: cannot list the queue; waiting jobs are picked up when they finish`,
      );
      return 0;
    }
    let followed = 0;
    for (const job of [...queue.running, ...queue.queued]) {
      if (!this.#platform.owns(job) || this.#o.active.has(job.id)) continue;
      this.#platform.follow(job);
      followed++;
    }
    return followed;
  }

  /** Sweeps every `sweepMs` from now on (never two at once) until `stop()`. */
  start(): void {
    this.#timer = setInterval(() => void this.#sweep(), this.#o.sweepMs ?? 30_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const n = await this.deliverFinished();
      if (n) this.#o.logger.info({ delivered: n }, `${this.#o.label}: delivered finished jobs`);
    } catch (err) {
      this.#o.logger.warn({ err: String(err) }, `${this.#o.label}: delivery sweep failed`);
    } finally {
      this.#sweeping = false;
    }
  }

  async #failed(job: JobView, err: unknown): Promise<void> {
    const { logger, label } = this.#o;
    const attempts = (this.#failures.get(job.id) ?? 0) + 1;
    this.#failures.set(job.id, attempts);
    if (attempts < (this.#o.maxAttempts ?? MAX_DELIVERY_ATTEMPTS)) {
      logger.warn(
        { job: job.id, attempts, err: String(err) },
        `${label}: could not deliver a finished job; will retry`,
      );
      return;
    }
    logger.error({ job: job.id, attempts, err }, `${label}: giving up on delivering a job`);
    this.#failures.delete(job.id);
    // Never silently: the user hears about it.
    await this.#platform
      .giveUp(job, attempts)
      .catch((tellErr: unknown) =>
        logger.error({ job: job.id, err: String(tellErr) }, `${label}: could not tell the user`),
      );
    await this.#service.markDelivered(job.id);
  }
}
