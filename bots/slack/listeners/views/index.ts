/**
 * The modal's submission. Option errors go back into the modal next to their field
 * (`response_action: errors`); after the ack, the picture is fetched and the job launched, and any
 * refusal is answered ephemerally in the channel.
 */
import type { App } from '@slack/bolt';
import { OptionError, resolveOptions } from '@stillmotion/engine';
import type { SlackDeps } from '../../context.ts';
import { launchJob, replyError } from '../../job-runner.ts';
import { IMAGE_BLOCK, MODAL_CALLBACK, modalFields, readSubmission } from '../../modal.ts';
import { fileInfo } from '../../slack-files.ts';

export function register(app: App, deps: SlackDeps): void {
  app.view(MODAL_CALLBACK, async ({ ack, view, body, client }) => {
    const { metadata, options, fileId } = readSubmission(view);
    if (!fileId) {
      await ack({ response_action: 'errors', errors: { [IMAGE_BLOCK]: 'Choose a picture to animate.' } });
      return;
    }
    if (deps.model) {
      try {
        resolveOptions(options, deps.model);
      } catch (err) {
        if (!(err instanceof OptionError)) throw err;
        const block = modalFields().includes(err.option) ? err.option : 'prompt';
        await ack({ response_action: 'errors', errors: { [block]: err.message } });
        return;
      }
    }
    await ack();
    const user = body.user.id;
    const team = body.team?.id ?? body.user.team_id ?? '';
    try {
      const file = await fileInfo(client, fileId);
      await launchJob(deps, client, {
        team,
        user,
        channel: metadata.channel,
        thread_ts: metadata.thread_ts,
        file,
        options,
        note: metadata.note,
      });
    } catch (err) {
      await replyError(deps, client, { channel: metadata.channel, user, thread_ts: metadata.thread_ts }, err);
    }
  });
}
