/**
 * The status message's buttons: ✖ Cancel, 🔁 Reroll (new seed), ➕/➖ motion ±50 (same seed) and
 * 🗑 Delete. Only the job's owner or an admin may press them; anyone else gets an ephemeral refusal.
 * New jobs fetch the source picture again by the file id kept in the job's delivery target.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import type { AnimateOptionsInput } from '@stillmotion/engine';
import { MOTION_STEP, nextMotion } from '../../../../src/chat/index.ts';
import type { JobView } from '../../../../src/service/types.ts';
import { ServiceError } from '../../../../src/service/types.ts';
import { ACTION, deletedBlocks } from '../../blocks.ts';
import { actorOf, asSlackTarget, type SlackDeps } from '../../context.ts';
import { Refusal } from '../../../../src/chat/refusal.ts';
import { launchJob, replyError } from '../../job-runner.ts';
import { fileInfo } from '../../slack-files.ts';

/** The options of the follow-up job a button asks for. */
function followUp(job: JobView, actionId: string): AnimateOptionsInput {
  if (actionId === ACTION.reroll) return { ...job.options, seed: undefined };
  const delta = actionId === ACTION.more ? MOTION_STEP : -MOTION_STEP;
  const motion = nextMotion(job, delta);
  if (motion === null) {
    throw new Refusal(
      'motion_limit',
      `Motion is already ${job.options.motion}; it must stay within 1–255.`,
    );
  }
  return { ...job.options, motion, seed: job.seed };
}

export function register(app: App, deps: SlackDeps): void {
  app.action<BlockAction<ButtonAction>>(/^stillmotion_/, async ({ ack, body, action, client }) => {
    await ack();
    const user = body.user.id;
    const team = body.team?.id ?? body.user.team_id ?? '';
    const channel = body.channel?.id ?? body.container.channel_id;
    const messageTs = body.message?.ts ?? body.container.message_ts;
    const [jobId = '', uploadedFileId] = action.value?.split(':') ?? [];
    const log = deps.logger.child({ job: jobId, user, action: action.action_id });
    try {
      const job = await deps.service.get(jobId);
      if (!job) throw new ServiceError(404, 'not_found', 'that job no longer exists');
      const actor = actorOf(deps, team, user);
      if (job.user !== actor.user && !actor.admin) {
        log.info('slack: button refused (not the owner)');
        throw new Refusal(
          'not_owner',
          `Only <@${asSlackTarget(job.delivery)?.user ?? 'the owner'}> or an admin can use these buttons.`,
        );
      }
      if (action.action_id === ACTION.cancel) {
        await deps.service.cancel(job.id, actor);
        log.info({ admin: actor.admin }, 'slack: job canceled');
        return;
      }
      if (action.action_id === ACTION.delete) {
        await deps.service.deleteResult(job.id, actor);
        if (uploadedFileId) await client.files.delete({ file: uploadedFileId });
        if (messageTs) await client.chat.update({ channel, ts: messageTs, ...deletedBlocks(user) });
        log.info({ admin: actor.admin }, 'slack: result deleted');
        return;
      }
      const target = asSlackTarget(job.delivery);
      if (!target) throw new ServiceError(404, 'not_found', 'that job has no Slack picture to start from');
      const options = followUp(job, action.action_id);
      const file = await fileInfo(client, target.file_id);
      const id = await launchJob(deps, client, {
        team,
        user,
        channel: target.channel,
        thread_ts: target.thread_ts,
        file,
        options,
      });
      log.info({ from: job.id, to: id }, 'slack: follow-up job');
    } catch (err) {
      const thread_ts = (body.message?.thread_ts as string | undefined) ?? messageTs;
      await replyError(deps, client, { channel, user, thread_ts }, err);
    }
  });
}
