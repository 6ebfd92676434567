/**
 * The service logger: pino, JSON to stderr (stdout carries only results). Secrets are redacted
 * wherever they appear as fields; job-scoped children carry the job id on every line.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

/** Field paths that may hold a secret. */
export const REDACT_PATHS: readonly string[] = [
  'token',
  'adminToken',
  '*.token',
  '*.adminToken',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'config.adminToken',
  'env.STILLMOTION_ADMIN_TOKEN',
  'env.DISCORD_TOKEN',
  'env.SLACK_BOT_TOKEN',
  'env.SLACK_APP_TOKEN',
  'env.SLACK_SIGNING_SECRET',
  'env.REDIS_URL',
  'config.redisUrl',
  'redisUrl',
  'linkSecret',
  '*.linkSecret',
  'env.RESULT_LINK_SECRET',
  'sig',
  '*.sig',
];

export function createLogger(
  level = 'info',
  destination: pino.DestinationStream = pino.destination(2),
): Logger {
  return pino({ level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, destination);
}

/** A child logger whose every line names the job. */
export function jobLogger(logger: Logger, jobId: string): Logger {
  return logger.child({ job: jobId });
}
