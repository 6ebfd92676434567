/**
 * The ranges an admin may set the queue limits and daily quotas to, the same on every surface: the
 * HTTP admin routes (`PUT /v1/queue/limits`, `/v1/queue/quotas`), Discord's `/queue` and Slack's
 * `/animate-queue` (through src/chat/admin.ts). Bounds are inclusive.
 */
export interface Range {
  readonly min: number;
  readonly max: number;
}

/** Jobs per user, queued and running together. */
export const PER_USER_LIMIT: Range = Object.freeze({ min: 1, max: 1000 });
/** Jobs waiting in the whole queue. */
export const MAX_QUEUED_LIMIT: Range = Object.freeze({ min: 1, max: 100_000 });
/** Jobs per UTC day, per user and per server or workspace (0: none). */
export const DAILY_QUOTA: Range = Object.freeze({ min: 0, max: 1_000_000 });

export function inRange(value: number, range: Range): boolean {
  return Number.isInteger(value) && value >= range.min && value <= range.max;
}

/** `1–1000`, as messages write a range. */
export function rangeText(range: Range): string {
  return `${range.min}–${range.max}`;
}
