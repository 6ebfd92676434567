/**
 * What happens to the journal after a restart: queued jobs are queued again in their order; a
 * job found `running` means the process died under it, so it is retried once (first in line),
 * and failed with a reason if it was already a retry. A clean shutdown never leaves a job
 * `running` (it is put back with its attempt refunded).
 */
import type { Logger } from '../log.ts';
import type { JobRecord, Journal } from './journal.ts';
import type { BackendJob, LocalBackend } from './local-backend.ts';

export interface RecoveryReport {
  readonly requeued: number;
  readonly retried: number;
  readonly failed: number;
}

/** Starts allowed per job: the first run and one retry after a crash. */
export const MAX_ATTEMPTS = 2;

export async function recoverJournal(
  journal: Journal,
  backend: LocalBackend<BackendJob>,
  logger: Logger,
  onFailed: (rec: JobRecord) => void,
): Promise<RecoveryReport> {
  // Read both lists first: a retried job becomes `queued` and must not be queued twice.
  const running = journal.listByState('running');
  const queued = journal.listByState('queued');
  let retried = 0;
  let failed = 0;
  for (const rec of running) {
    const log = logger.child({ job: rec.id });
    if (rec.attempts >= MAX_ATTEMPTS) {
      journal.markEnded(
        rec.id,
        'failed',
        'the service stopped twice while running this job, so it was not tried again',
        'interrupted',
      );
      onFailed(rec);
      log.warn({ attempts: rec.attempts }, 'job was running during two crashes: failed');
      failed++;
    } else {
      journal.requeue(rec.id, false);
      await backend.enqueue({ id: rec.id, user: rec.user }, { bypassCaps: true });
      log.info({ attempts: rec.attempts }, 'job was running during a crash: retrying once');
      retried++;
    }
  }
  for (const rec of queued) await backend.enqueue({ id: rec.id, user: rec.user }, { bypassCaps: true });
  return { requeued: queued.length, retried, failed };
}
