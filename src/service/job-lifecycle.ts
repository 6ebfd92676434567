/**
 * What a job is, whichever service keeps it: queued → running → succeeded | failed | canceled.
 * Who may act on it ({@link ownedJob}) and why a running one stops early ({@link JobAbort}) are
 * the same in the in-process service and in redis mode; `submit-checks.ts` holds the checks before
 * it is accepted, `run-job.ts` the run of one job and `job-view.ts` what clients see of it.
 */
import { noSuchJob, notOwner } from './errors.ts';
import type { Actor } from './types.ts';

/**
 * Why a running job's signal was aborted: the owner or an admin canceled it, the service is
 * stopping (the job goes back to the queue, its try not used), or the job is no longer this
 * runner's (gone from its store, ended meanwhile, or handed to another worker).
 */
export type AbortCause = 'canceled' | 'shutdown' | 'lost';

export class JobAbort extends Error {
  override name = 'JobAbort';
  readonly why: AbortCause;
  constructor(why: AbortCause, message?: string) {
    super(message ?? (why === 'canceled' ? 'canceled' : 'the service is shutting down'));
    this.why = why;
  }
}

/** The job, when `actor` may act on it (its owner, or an admin); else the refusal (404, 403). */
export function ownedJob<J extends { readonly user: string }>(
  job: J | undefined,
  id: string,
  actor: Actor,
): J {
  if (!job) throw noSuchJob(id);
  if (!actor.admin && actor.user !== job.user) throw notOwner();
  return job;
}
