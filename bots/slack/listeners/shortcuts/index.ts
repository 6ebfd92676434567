/**
 * Message shortcut “Animate this image”: opens the same modal. A file_input cannot be preselected,
 * so the modal shows the picture in a context block and keeps its file id in private_metadata;
 * the result goes into that message's thread.
 */
import type { App, MessageShortcut } from '@slack/bolt';
import { Refusal } from '../../../../src/chat/refusal.ts';
import type { SlackDeps } from '../../context.ts';
import { replyError } from '../../job-runner.ts';
import { animateModal } from '../../modal.ts';
import { pickImage, type SlackFile } from '../../slack-files.ts';

export const SHORTCUT_CALLBACK = 'stillmotion_animate_image';

export function register(app: App, deps: SlackDeps): void {
  app.shortcut<MessageShortcut>(SHORTCUT_CALLBACK, async ({ shortcut, ack, client }) => {
    await ack();
    const channel = shortcut.channel.id;
    const thread_ts = (shortcut.message.thread_ts as string | undefined) ?? shortcut.message.ts;
    let picked: ReturnType<typeof pickImage>;
    try {
      picked = pickImage(shortcut.message.files as SlackFile[] | undefined);
      if (!picked) {
        throw new Refusal(
          'no_image',
          'That message has no picture. Use “Animate this image” on a message with a PNG, JPEG, WebP, GIF or AVIF file.',
        );
      }
    } catch (err) {
      await replyError(deps, client, { channel, user: shortcut.user.id, thread_ts }, err);
      return;
    }
    const view = animateModal({
      model: deps.model,
      typed: {},
      metadata: {
        channel,
        thread_ts,
        file_id: picked.file.id,
        extra: {},
        ...(picked.note ? { note: picked.note } : {}),
      },
      sourceFile: picked.file,
    });
    await client.views.open({ trigger_id: shortcut.trigger_id, view });
  });
}
