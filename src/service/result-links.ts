/**
 * Signed, expiring links to a finished result, for videos too big to upload to a chat: anyone with
 * the link may download that one result until it expires, without a token. The signature is an
 * HMAC-SHA256 over the job id and the expiry (Unix seconds) with the configured secret (never
 * logged); the route `GET /links/:id/result?exp=…&sig=…` checks it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config.ts';

export type LinkCheck = 'ok' | 'expired' | 'bad';

export class ResultLinks {
  readonly #base: string;
  readonly #secret: string;
  /** How long a link lasts: the result's own lifetime. */
  readonly ttlMs: number;

  constructor(opts: { publicUrl: string; secret: string; ttlMs: number }) {
    this.#base = opts.publicUrl.replace(/\/+$/, '');
    this.#secret = opts.secret;
    this.ttlMs = opts.ttlMs;
  }

  #sign(id: string, exp: number): string {
    return createHmac('sha256', this.#secret).update(`${id}.${exp}`).digest('base64url');
  }

  /** A link to job `id`'s result, valid for {@link ttlMs} from `now`. */
  url(id: string, now = Date.now()): string {
    const exp = Math.floor((now + this.ttlMs) / 1000);
    return `${this.#base}/links/${encodeURIComponent(id)}/result?exp=${exp}&sig=${this.#sign(id, exp)}`;
  }

  check(id: string, exp: unknown, sig: unknown, now = Date.now()): LinkCheck {
    if (typeof exp !== 'string' || !/^\d{1,12}$/.test(exp) || typeof sig !== 'string') return 'bad';
    const want = Buffer.from(this.#sign(id, Number(exp)));
    const given = Buffer.from(sig);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return 'bad';
    return Number(exp) * 1000 < now ? 'expired' : 'ok';
  }
}

/** Links are on when PUBLIC_URL and a secret are both set. */
export function resultLinksFor(
  config: Pick<Config, 'publicUrl' | 'linkSecret' | 'resultTtlMs'>,
): ResultLinks | undefined {
  if (!config.publicUrl || !config.linkSecret) return undefined;
  return new ResultLinks({
    publicUrl: config.publicUrl,
    secret: config.linkSecret,
    ttlMs: config.resultTtlMs,
  });
}
