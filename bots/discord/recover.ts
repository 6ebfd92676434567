/**
 * After a restart: results finished while the bot was away are posted from the job journal's
 * delivery targets (as channel messages that mention the user), and Discord jobs still waiting or
 * running are followed to the end and delivered the same way. Failed deliveries are retried by the
 * shared policy's sweep.
 */
import { DeliveryRecovery } from '../../src/chat/delivery-recovery.ts';
import { isFinished } from '../../src/chat/render.ts';
import { followJob } from '../../src/service/follow-job.ts';
import type { JobView } from '../../src/service/types.ts';
import type { BotContext } from './context.ts';
import { type DiscordDelivery, deliver, isDiscordDelivery } from './deliver.ts';
import { track } from './job-flow.ts';
import { safeErr } from './log-safe.ts';

/** Follows a job that waits or runs without a follower, and delivers it once it ends. */
async function followUnattended(ctx: BotContext, job: JobView): Promise<void> {
  const target = job.delivery;
  if (!isDiscordDelivery(target) || ctx.active.has(job.id)) return;
  ctx.active.add(job.id);
  try {
    const final = isFinished(job) ? job : await untilFinished(ctx, job.id);
    if (!final.delivered) await deliver(ctx, final, target);
  } catch (err) {
    ctx.logger.error({ jobId: job.id, err: safeErr(err) }, 'delivery after restart failed');
  } finally {
    ctx.active.delete(job.id);
  }
}

function untilFinished(ctx: BotContext, id: string): Promise<JobView> {
  return new Promise((resolve, reject) => {
    const following = followJob(ctx.service, id, (job) => isFinished(job) && resolve(job));
    following.current.then((job) => {
      if (job) return;
      following.stop();
      reject(new Error(`job ${id} disappeared`));
    }, reject);
  });
}

/**
 * Discord's part of the shared delivery-recovery policy (src/chat/delivery-recovery.ts): which
 * jobs are Discord's, how one is delivered or followed, and how a user hears that a result could
 * not be posted (a DM).
 */
export function discordRecovery(ctx: BotContext, sweepMs?: number): DeliveryRecovery {
  const target = (job: JobView) => job.delivery as DiscordDelivery;
  return new DeliveryRecovery(
    ctx.service,
    {
      owns: (job) => isDiscordDelivery(job.delivery),
      deliver: (job) => deliver(ctx, job, target(job)),
      follow: (job) => track(ctx, followUnattended(ctx, job)),
      giveUp: (job, attempts) =>
        ctx.client.users.send(target(job).userId, {
          content: `❌ Your video (job \`${job.id}\`) finished, but I could not post it in <#${target(job).channelId}> after ${attempts} tries. Check that I may post there, and ask again.`,
          allowedMentions: { parse: [] },
        }),
    },
    { logger: ctx.logger, label: 'discord', active: ctx.active, ...(sweepMs ? { sweepMs } : {}) },
  );
}
