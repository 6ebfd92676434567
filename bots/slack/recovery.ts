/**
 * Nothing dropped, nothing posted twice: after a restart (and then every so often) post each
 * finished Slack job not yet marked delivered, and follow the Slack jobs still queued or running.
 * Jobs this process is already following are skipped (`deps.active`).
 */
import type { webApi } from '@slack/bolt';
import { asSlackTarget, type SlackDeps, type SlackTarget } from './context.ts';
import { deliver, follow } from './job-runner.ts';

type Client = webApi.WebClient;

/** Sweeps a delivery is tried before the user is told it failed and it is marked delivered. */
export const MAX_DELIVERY_ATTEMPTS = 5;

async function giveUpAfterRetries(
  deps: SlackDeps,
  client: Client,
  id: string,
  target: SlackTarget,
  err: unknown,
) {
  const attempts = (deps.failures.get(id) ?? 0) + 1;
  deps.failures.set(id, attempts);
  if (attempts < MAX_DELIVERY_ATTEMPTS) {
    deps.logger.warn(
      { job: id, attempts, err: String(err) },
      'slack: could not deliver a finished job; will retry',
    );
    return;
  }
  deps.logger.error({ job: id, attempts, err }, 'slack: giving up on delivering a job');
  deps.failures.delete(id);
  // Never silently: the user hears about it in their DM with the app.
  await client.chat
    .postMessage({
      channel: target.user,
      text: `❌ Your video (job \`${id}\`) finished, but I could not post it in <#${target.channel}> after ${attempts} tries. Invite me there and ask again.`,
    })
    .catch((dmErr: unknown) =>
      deps.logger.error({ job: id, err: String(dmErr) }, 'slack: could not tell the user'),
    );
  await deps.service.markDelivered(id);
}

/** Posts finished, undelivered Slack jobs; a failure stays undelivered for the next sweep. */
export async function deliverFinished(deps: SlackDeps, client: Client): Promise<number> {
  let delivered = 0;
  for (const job of await deps.service.undelivered()) {
    const target = asSlackTarget(job.delivery);
    if (!target || deps.active.has(job.id)) continue;
    deps.active.add(job.id);
    try {
      await deliver(deps, client, job, target);
      delivered++;
    } catch (err) {
      await giveUpAfterRetries(deps, client, job.id, target, err);
    } finally {
      deps.active.delete(job.id);
    }
  }
  return delivered;
}

/** Follows Slack jobs that wait or run without a follower (their status messages are still there). */
export async function followWaiting(deps: SlackDeps, client: Client): Promise<number> {
  let queue: Awaited<ReturnType<typeof deps.service.queue>>;
  try {
    queue = await deps.service.queue();
  } catch (err) {
    // A remote sidecar (ENGINE_URL) lists the queue only with STILLMOTION_ADMIN_TOKEN; such jobs
    // are then delivered by the next sweep once they finish.
    deps.logger.warn(
      { err: String(err) },
      'slack: cannot list the queue; waiting jobs are picked up when they finish',
    );
    return 0;
  }
  let followed = 0;
  for (const job of [...queue.running, ...queue.queued]) {
    const target = asSlackTarget(job.delivery);
    if (!target || deps.active.has(job.id)) continue;
    follow(deps, client, job.id, target);
    followed++;
  }
  return followed;
}

export async function resumeDeliveries(
  deps: SlackDeps,
  client: Client,
): Promise<{ delivered: number; followed: number }> {
  const delivered = await deliverFinished(deps, client);
  const followed = await followWaiting(deps, client);
  return { delivered, followed };
}
