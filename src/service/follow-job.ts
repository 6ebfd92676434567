/**
 * Follows one job: subscribes to its changes first, then reads its current view, so that no
 * change is lost between the two (a change that fires before the read answers arrives through the
 * subscription; one that came before the subscription is in the read). Every view goes to `onView`
 * in the order it arrives, up to and including the first one that ended the job; then the
 * subscription is dropped. The chat watchers, the Discord delivery recovery and the SSE stream
 * all follow jobs this way.
 */
import { type JobService, type JobView, TERMINAL } from './types.ts';

export interface Following {
  /** Stops following (idempotent); no view is handed over afterwards. */
  readonly stop: () => void;
  /**
   * The current view as read after subscribing (handed to `onView` first, unless following had
   * stopped); `undefined` if there is no such job. Rejects if the read failed.
   */
  readonly current: Promise<JobView | undefined>;
}

export function followJob(
  service: Pick<JobService, 'subscribe' | 'get'>,
  id: string,
  onView: (job: JobView) => void,
): Following {
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    unsubscribe?.();
  };
  const take = (job: JobView) => {
    if (stopped) return;
    if (TERMINAL.has(job.state)) stop();
    onView(job);
  };
  unsubscribe = service.subscribe(id, take);
  // A listener called during `subscribe` may have stopped before the unsubscribe existed.
  if (stopped) unsubscribe();
  const current = service.get(id).then((job) => {
    if (job) take(job);
    return job;
  });
  return { stop, current };
}
