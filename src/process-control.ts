/**
 * How the two long-running commands (`npm start`, `npm run worker`) begin and end: a configuration
 * error is one line on stderr and exit code 2; SIGTERM or SIGINT stops once, logs a failed stop, and
 * exits 0.
 */
import { ConfigError } from './config.ts';
import type { Logger } from './log.ts';

/** The configuration `load` reads, or exit 2 with its message after `prefix` (e.g. `stillmotion worker`). */
export function configOrExit<T>(prefix: string, load: () => T): T {
  try {
    return load();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${prefix}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

/**
 * On the first SIGTERM or SIGINT: logs `message`, runs `stop` (a failure is logged as
 * `error while <stopping>`), then exits 0. Later signals are ignored while it stops.
 */
export function stopOnSignals(
  logger: Logger,
  message: string,
  stopping: string,
  stop: () => Promise<void>,
): void {
  let stopped = false;
  const onSignal = async (signal: string) => {
    if (stopped) return;
    stopped = true;
    logger.info({ signal }, message);
    try {
      await stop();
    } catch (err) {
      logger.error({ err }, `error while ${stopping}`);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
  process.on('SIGINT', () => void onSignal('SIGINT'));
}
