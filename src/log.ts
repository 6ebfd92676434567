/**
 * The service logger: pino to stderr (stdout carries only results). JSON lines, except for a person
 * at a terminal: with LOG_FORMAT unset and stderr a TTY (or LOG_FORMAT=pretty), one coloured,
 * readable line per entry through pino-pretty. Secrets are redacted wherever they appear as
 * fields; job-scoped children carry the job id on every line.
 */
import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export type LogFormat = 'json' | 'pretty';

/** Pretty when asked, or when nothing was asked and a person is watching stderr. */
export function wantsPretty(format: LogFormat | undefined, stderrIsTty: boolean): boolean {
  return format === 'pretty' || (format === undefined && stderrIsTty);
}

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
  'botToken',
  '*.botToken',
  'config.adminToken',
  'config.botToken',
  'env.STILLMOTION_ADMIN_TOKEN',
  'env.STILLMOTION_BOT_TOKEN',
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

export interface LoggerOptions {
  /** LOG_FORMAT; unset: pretty on a TTY, else JSON. */
  readonly format?: LogFormat;
  /** Where lines go. @default stderr */
  readonly destination?: pino.DestinationStream;
  /** @default process.stderr.isTTY */
  readonly isTty?: boolean;
}

export function createLogger(level = 'info', options: LoggerOptions | pino.DestinationStream = {}): Logger {
  const o: LoggerOptions = 'write' in options ? { destination: options, format: 'json' } : options;
  const tty = o.isTty ?? process.stderr.isTTY === true;
  const settings = { level, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } };
  if (!wantsPretty(o.format, tty)) return pino(settings, o.destination ?? pino.destination(2));
  const stream = pretty({
    destination: o.destination ?? 2,
    colorize: tty && o.destination === undefined,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss',
    ignore: 'pid,hostname',
    sync: true,
  });
  return pino(settings, stream);
}

/** A child logger whose every line names the job. */
export function jobLogger(logger: Logger, jobId: string): Logger {
  return logger.child({ job: jobId });
}
