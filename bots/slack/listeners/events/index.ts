/**
 * `app_mention`: the picture comes from the mention itself or, in a thread, from the thread's
 * parent (conversations.replies on event.thread_ts: the mention's own ts would return only the
 * mention). The rest of the text is the prompt plus options; the result goes in the thread.
 */
import type { App } from '@slack/bolt';
import { parseChatText } from '../../../../src/chat/index.ts';
import { Refusal } from '../../../../src/chat/refusal.ts';
import type { SlackDeps } from '../../context.ts';
import { slackHelp } from '../../help.ts';
import { launchJob, replyError } from '../../job-runner.ts';
import { fileInfo, type PickedImage, pickImage, type SlackFile } from '../../slack-files.ts';

export function register(app: App, deps: SlackDeps): void {
  app.event('app_mention', async ({ event, body, client, context }) => {
    const user = event.user ?? '';
    const channel = event.channel;
    const thread_ts = event.thread_ts ?? event.ts;
    const team = (event as { team?: string }).team ?? body.team_id;
    const me = context.botUserId ? new RegExp(`<@${context.botUserId}(\\|[^>]*)?>`, 'g') : /^\s*<@[^>]+>/;
    const text = event.text.replace(me, ' ').trim();
    try {
      const parsed = parseChatText(text, deps.model);
      if (parsed.help) {
        await client.chat.postEphemeral({ channel, user, thread_ts, text: slackHelp(deps) });
        return;
      }
      let picked: PickedImage | undefined = pickImage((event as { files?: SlackFile[] }).files);
      if (!picked && event.thread_ts) {
        const parent = await client.conversations.replies({
          channel,
          ts: event.thread_ts,
          limit: 1,
          inclusive: true,
        });
        picked = pickImage(parent.messages?.[0]?.files as SlackFile[] | undefined);
      }
      if (!picked) {
        throw new Refusal(
          'no_image',
          'I need a picture: mention me in a message with one attached, or in a thread whose first message has one.',
        );
      }
      const file = picked.file.url_private_download ? picked.file : await fileInfo(client, picked.file.id);
      await launchJob(deps, client, {
        team,
        user,
        channel,
        thread_ts,
        file,
        options: parsed.options,
        note: picked.note,
      });
    } catch (err) {
      await replyError(deps, client, { channel, user, thread_ts }, err);
    }
  });
}
