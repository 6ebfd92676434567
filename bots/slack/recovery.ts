/**
 * Slack's part of the shared delivery-recovery policy (src/chat/delivery-recovery.ts): which jobs
 * are Slack's, how one is delivered or followed, and how a user hears that a result could not be
 * posted (a DM from the app).
 */
import type { webApi } from '@slack/bolt';
import { DeliveryRecovery } from '../../src/chat/delivery-recovery.ts';
import { asSlackTarget, type SlackDeps } from './context.ts';
import { deliver, follow } from './job-runner.ts';

type Client = webApi.WebClient;

export function slackRecovery(deps: SlackDeps, client: Client, sweepMs?: number): DeliveryRecovery {
  const target = (job: { delivery?: Record<string, unknown> }) => asSlackTarget(job.delivery)!;
  return new DeliveryRecovery(
    deps.service,
    {
      owns: (job) => asSlackTarget(job.delivery) !== undefined,
      deliver: (job) => deliver(deps, client, job, target(job)),
      follow: (job) => follow(deps, client, job.id, target(job)),
      giveUp: (job, attempts) =>
        client.chat.postMessage({
          channel: target(job).user,
          text: `❌ Your video (job \`${job.id}\`) finished, but I could not post it in <#${target(job).channel}> after ${attempts} tries. Invite me there and ask again.`,
        }),
    },
    { logger: deps.logger, label: 'slack', active: deps.active, ...(sweepMs ? { sweepMs } : {}) },
  );
}
