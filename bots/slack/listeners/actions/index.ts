/**
 * The status message's buttons: ✖ Cancel, 🔁 Reroll (new seed), ➕/➖ motion ±50 (same seed) and
 * 🗑 Delete. Only the job's owner or an admin may press them; anyone else gets an ephemeral refusal.
 * New jobs fetch the source picture again by the file id kept in the job's delivery target.
 */
import type { App, BlockAction, ButtonAction } from '@slack/bolt';
import { type FollowUp, followUpOptions, pressedJob } from '../../../../src/chat/follow-up.ts';
import { Refusal } from '../../../../src/chat/refusal.ts';
import { refuse } from '../../../../src/service/errors.ts';
import { ACTION, deletedBlocks } from '../../blocks.ts';
import { actorOf, asSlackTarget, type SlackDeps, slackUserId } from '../../context.ts';
import { launchJob, replyError } from '../../job-runner.ts';
import { fileInfo } from '../../slack-files.ts';

const FOLLOW_UPS: Readonly<Record<string, FollowUp>> = {
  [ACTION.reroll]: 'reroll',
  [ACTION.more]: 'more',
  [ACTION.less]: 'less',
};

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
      const admin = actorOf(deps, team, user).admin;
      const { job, actor } = await pressedJob(deps.service, jobId, {
        user: slackUserId(team, user),
        isAdmin: () => admin,
        owner: (j) => `<@${asSlackTarget(j.delivery)?.user ?? 'the owner'}>`,
        onRefused: () => log.info('slack: button refused (not the owner)'),
      });
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
      if (!target) throw refuse('not_found', 'that job has no Slack picture to start from');
      const followUp = FOLLOW_UPS[action.action_id];
      if (!followUp) throw new Refusal('unknown_button', 'That button is no longer valid.');
      const options = followUpOptions(job, followUp, deps.randomSeed);
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
