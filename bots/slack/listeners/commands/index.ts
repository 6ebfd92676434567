/**
 * Slash commands. `/animate [prompt and --options]` opens the modal at once (a trigger_id lives
 * 3 s and works once), prefilled with what was typed; `help` and bad options answer ephemerally.
 * `/animate-queue …` is the admin command.
 */
import type { App } from '@slack/bolt';
import { parseChatText, renderQuota } from '../../../../src/chat/index.ts';
import { runAdminCommand } from '../../admin.ts';
import { type SlackDeps, slackUserId } from '../../context.ts';
import { errorText } from '../../errors.ts';
import { slackHelp } from '../../help.ts';
import { animateModal, splitTyped } from '../../modal.ts';

export const ANIMATE_COMMAND = '/animate';
export const QUEUE_COMMAND = '/animate-queue';

export function register(app: App, deps: SlackDeps): void {
  app.command(ANIMATE_COMMAND, async ({ command, ack, client }) => {
    let parsed: ReturnType<typeof parseChatText>;
    try {
      parsed = parseChatText(command.text, deps.model);
    } catch (err) {
      await ack({ response_type: 'ephemeral', text: errorText(err).text });
      return;
    }
    if (parsed.help) {
      // What is left of today's quotas, as Discord's /jobs shows it.
      const usage = await deps.service
        .quotaLeft?.(slackUserId(command.team_id, command.user_id))
        .catch(() => undefined);
      const quota = usage && renderQuota(usage, 'this workspace');
      await ack({ response_type: 'ephemeral', text: [slackHelp(deps), quota].filter(Boolean).join('\n\n') });
      return;
    }
    await ack();
    const { fields, extra } = splitTyped(parsed.options);
    const view = animateModal({
      model: deps.model,
      typed: fields,
      metadata: { channel: command.channel_id, extra },
    });
    await client.views.open({ trigger_id: command.trigger_id, view });
  });

  app.command(QUEUE_COMMAND, async ({ command, ack }) => {
    let text: string;
    try {
      text = await runAdminCommand(deps, command.team_id, command.user_id, command.text);
    } catch (err) {
      const e = errorText(err, '`/animate-queue`');
      deps.logger[e.expected ? 'info' : 'error'](
        { err, user: command.user_id },
        'slack admin: command failed',
      );
      text = e.text;
    }
    await ack({ response_type: 'ephemeral', text });
  });
}
