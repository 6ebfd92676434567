/**
 * Daily quotas (DAILY_QUOTA_USER, DAILY_QUOTA_GUILD): jobs accepted per UTC day, per user and per
 * guild (a Discord server or a Slack workspace). Both queue backends count with these helpers:
 * the local service in its journal, the Redis producers in the admission script.
 *
 * The guild comes only from what a trusted caller controls: the Slack workspace is part of the
 * namespaced user id (`slack:<team>:<user>`), and a Discord guild is the `guildId` of the delivery
 * target, which only trusted callers (the bots) may pass.
 */
import { refuse } from './errors.ts';
import type { DeliveryTarget, ServiceError, UserId } from './types.ts';

/** Jobs per UTC day; 0 means no quota. */
export interface DailyQuotas {
  readonly user: number;
  readonly guild: number;
}

export interface QuotaCount {
  readonly limit: number;
  readonly used: number;
  readonly left: number;
}

/** What is left today for a user (and their guild); null where no quota applies. */
export interface QuotaUsage {
  readonly user: QuotaCount | null;
  readonly guild: QuotaCount | null;
  /** When the counts start again (the next 00:00 UTC), ms since the epoch. */
  readonly resets_at: number;
}

const DAY_MS = 86_400_000;

/** The UTC day of `now`, e.g. `2026-12-02`. */
export function utcDay(now = Date.now()): string {
  return new Date(now).toISOString().slice(0, 10);
}

/** The next 00:00 UTC after `now`. */
export function quotaResetAt(now = Date.now()): number {
  return Math.floor(now / DAY_MS) * DAY_MS + DAY_MS;
}

/** The guild a job counts against: `slack:<team>`, `discord:<guild>`, or undefined. */
export function guildOf(user: UserId, delivery?: DeliveryTarget): string | undefined {
  const slack = /^slack:([^:]+):/.exec(user);
  if (slack) return `slack:${slack[1]}`;
  const guild = delivery?.guildId;
  if (user.startsWith('discord:') && typeof guild === 'string' && /^\d{1,25}$/.test(guild))
    return `discord:${guild}`;
  return undefined;
}

function inWords(ms: number): string {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return h ? `${h} h ${m} min` : `${m} min`;
}

/** The 429 a refused job gets: which quota, its size, and when it resets. */
export function quotaRefusal(which: 'user' | 'guild', limit: number, now = Date.now()): ServiceError {
  const reset = quotaResetAt(now);
  const when = `${new Date(reset).toISOString().slice(11, 16)} UTC (in ${inWords(reset - now)})`;
  const who =
    which === 'user'
      ? `you have used your daily quota of ${limit} jobs (DAILY_QUOTA_USER)`
      : `this server or workspace has used its daily quota of ${limit} jobs (DAILY_QUOTA_GUILD)`;
  return refuse('daily_quota', `${who}; it resets at ${when}`, {
    option: which === 'user' ? 'daily_quota_user' : 'daily_quota_guild',
  });
}

export function quotaCount(limit: number, used: number): QuotaCount | null {
  return limit > 0 ? { limit, used, left: Math.max(0, limit - used) } : null;
}

/**
 * Counts a job against today's quotas of its user and guild, or throws the refusal (429
 * `daily_quota`) of the first one used up. `take` counts all or none in the store, answering the
 * key (`user:<id>` or `guild:<id>`) of a quota already used up.
 */
export function takeQuotas(
  quotas: DailyQuotas,
  user: UserId,
  delivery: DeliveryTarget | undefined,
  take: (day: string, limits: readonly { key: string; limit: number }[]) => string | undefined,
  now = Date.now(),
): void {
  if (!quotas.user && !quotas.guild) return;
  const guild = guildOf(user, delivery);
  const full = take(utcDay(now), [
    { key: `user:${user}`, limit: quotas.user },
    ...(guild ? [{ key: `guild:${guild}`, limit: quotas.guild }] : []),
  ]);
  if (full) {
    const which = full.startsWith('user:') ? 'user' : 'guild';
    throw quotaRefusal(which, which === 'user' ? quotas.user : quotas.guild, now);
  }
}

/**
 * What is left today for `user` and the guild of `delivery`, from a store's counts (`used` reads
 * the count of `user:<id>` or `guild:<id>` on a UTC day).
 */
export async function quotasLeft(
  quotas: DailyQuotas,
  used: (day: string, key: string) => number | Promise<number>,
  user: UserId,
  delivery?: DeliveryTarget,
  now = Date.now(),
): Promise<QuotaUsage> {
  const day = utcDay(now);
  const guild = guildOf(user, delivery);
  return {
    user: quotaCount(quotas.user, await used(day, `user:${user}`)),
    guild: guild ? quotaCount(quotas.guild, await used(day, `guild:${guild}`)) : null,
    resets_at: quotaResetAt(now),
  };
}

/** Checks an admin's change: whole numbers ≥ 0 (0 turns a quota off). */
export function checkQuotas(q: Partial<DailyQuotas>): void {
  for (const [name, value] of Object.entries(q)) {
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      throw refuse('bad_quota', `${name} must be a whole number ≥ 0 (got ${value})`, {
        option: name,
      });
    }
  }
}
