/**
 * Cheap refusals for `POST /v1/jobs`: a rate limit per identity (rate-limiter-flexible) and the
 * service's own per-user and queue caps, checked before the picture is read, decoded or stored.
 * The service checks the caps again when it admits the job; this only makes a refusal cheap.
 */
import type { FastifyReply } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { refuse } from '../service/errors.ts';
import type { JobService, UserId } from '../service/types.ts';

export class SubmitGate {
  readonly #service: JobService;
  readonly #rate: RateLimiterMemory;
  readonly #perMinute: number;

  constructor(service: JobService, perMinute: number) {
    this.#service = service;
    this.#perMinute = perMinute;
    this.#rate = new RateLimiterMemory({ points: perMinute, duration: 60 });
  }

  /**
   * Counts one submission of `rateKey`, then asks the service whether `user` has room. A refused
   * upload's remaining bytes are read and dropped by Node (never buffered, decoded or stored), so
   * that the client still reads the answer: closing the socket under a client that is still
   * sending would make it see a broken pipe instead of the 429.
   */
  async admit(rateKey: string, user: UserId, reply: FastifyReply): Promise<void> {
    try {
      await this.#rate.consume(rateKey);
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const seconds = Math.max(1, Math.ceil(err.msBeforeNext / 1000));
      reply.header('retry-after', String(seconds));
      throw refuse(
        'rate_limited',
        `too many submissions (limit ${this.#perMinute} a minute); try again in ${seconds} s`,
      );
    }
    await this.#service.admit?.(user);
  }
}
