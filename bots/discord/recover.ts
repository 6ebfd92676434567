/**
 * After a restart: results finished while the bot was away are posted from the job journal's
 * delivery targets (as channel messages that mention the user), and Discord jobs still waiting or
 * running are followed to the end and delivered the same way.
 */
import { isFinished } from '../../src/chat/render.ts';
import { followJob } from '../../src/service/follow-job.ts';
import type { JobView } from '../../src/service/types.ts';
import type { BotContext } from './context.ts';
import { deliver, isDiscordDelivery } from './deliver.ts';
import { track } from './job-flow.ts';
import { safeErr } from './log-safe.ts';

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

export async function recoverDeliveries(ctx: BotContext): Promise<number> {
  const pending = (await ctx.service.undelivered()).filter((j) => isDiscordDelivery(j.delivery));
  let active: JobView[] = [];
  try {
    const q = await ctx.service.queue();
    active = [...q.running, ...q.queued].filter((j) => isDiscordDelivery(j.delivery));
  } catch (err) {
    ctx.logger.warn(
      { err: String(err) },
      'cannot list the queue; waiting jobs are delivered after the next restart',
    );
  }
  for (const job of [...pending, ...active]) track(ctx, followUnattended(ctx, job));
  if (pending.length + active.length > 0) {
    ctx.logger.info({ finished: pending.length, waiting: active.length }, 'resuming Discord deliveries');
  }
  return pending.length + active.length;
}
