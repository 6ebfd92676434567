/** The model's defaults as a bot sees them, from whichever job service it runs on. */
import type { ModelSummary } from '../service/engine-port.ts';
import type { JobService } from '../service/types.ts';

interface WarnLogger {
  warn(obj: object, msg?: string): void;
}

/**
 * Asks the service for its model. Without an answer (a remote sidecar that is down at start) the
 * bot goes on without defaults, and the service checks the option ranges on submit.
 */
export async function serviceModel(
  service: JobService,
  logger: WarnLogger,
): Promise<ModelSummary | undefined> {
  try {
    return await service.describeModel();
  } catch (err) {
    logger.warn({ err: String(err) }, 'no model info from the job service; options are checked on submit');
    return undefined;
  }
}
