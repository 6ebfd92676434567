/**
 * Follows a job until it ends: every change goes through a {@link ProgressThrottle} as rendered
 * text, and the promise resolves with the final job. Both chat adapters use it for their status
 * message.
 */
import { followJob } from '../service/follow-job.ts';
import type { JobService, JobView } from '../service/types.ts';
import { type Escape, isFinished, renderProgress } from './render.ts';
import { ProgressThrottle } from './throttle.ts';

export interface WatchOptions {
  /** Edits the status message; called at most once per `intervalMs`, never concurrently. */
  readonly show: (text: string, job: JobView) => Promise<unknown>;
  /** Called with every view before the final one, unthrottled (e.g. to catch a step as it passes). */
  readonly onView?: (job: JobView) => void;
  /** How user text is made inert in the platform's markup (see render.ts). */
  readonly escape: Escape;
  /** @default 1500 */
  readonly intervalMs?: number;
  /** An intermediate edit failed (logged by the caller; watching goes on). */
  readonly onError?: (err: unknown) => void;
  /**
   * Also show the final state (done/failed/canceled) through `show`, as `renderProgress` gives it
   * (`true`) or as this function writes it. @default false
   */
  readonly showFinal?: boolean | ((job: JobView) => string);
}

export interface WatchResult {
  readonly job: JobView;
  /** Edits sent. */
  readonly edits: number;
  /**
   * When the last edit finished (ms since epoch; -Infinity if none). The promise resolves only after
   * an edit in flight has finished, so a caller's own next edit can keep the interval from here.
   */
  readonly lastEditEndedAt: number;
}

export function watchJob(service: JobService, id: string, options: WatchOptions): Promise<WatchResult> {
  let latest: JobView | undefined;
  const throttle = new ProgressThrottle<string>((text) => options.show(text, latest!), {
    intervalMs: options.intervalMs,
    onError: options.onError,
  });
  return new Promise<WatchResult>((resolve, reject) => {
    let done = false;
    const finish = (job: JobView) => {
      done = true;
      const text =
        typeof options.showFinal === 'function'
          ? options.showFinal(job)
          : renderProgress(job, options.escape);
      const end = options.showFinal ? throttle.final(text) : throttle.stop();
      end.then(() => {
        const { sent, lastEndedAt } = throttle.stats;
        resolve({ job, edits: sent, lastEditEndedAt: lastEndedAt });
      }, reject);
    };
    const following = followJob(service, id, (job) => {
      if (done) return;
      latest = job;
      if (isFinished(job)) finish(job);
      else {
        options.onView?.(job);
        throttle.update(renderProgress(job, options.escape));
      }
    });
    following.current.then((job) => {
      if (job || done) return;
      done = true;
      following.stop();
      throttle.close();
      reject(new Error(`job ${id} not found`));
    }, reject);
  });
}
