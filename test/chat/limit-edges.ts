/** The per-user limit values every admin surface (HTTP, Discord, Slack) must treat alike. */
import { PER_USER_LIMIT } from '../../src/service/admin-ranges.ts';

export const LIMIT_EDGES = {
  accepted: [PER_USER_LIMIT.min, PER_USER_LIMIT.max],
  refused: [PER_USER_LIMIT.min - 1, PER_USER_LIMIT.max + 1],
} as const;
