/**
 * The Slack adapter's error replies. A `Refusal` (src/chat) is shown as it is written, in the bot's
 * own mrkdwn. Every other error is worded by the shared `userError`, which escapes what it quotes (a file name, a typed value).
 */
import { Refusal, userError } from '../../src/chat/index.ts';
import { mrkdwn } from './mrkdwn.ts';

/** Slack refusals a user can act on, in words. */
function slackApiText(err: unknown): string | undefined {
  const code = (err as { data?: { error?: string } }).data?.error;
  if (code === 'not_in_channel' || code === 'channel_not_found' || code === 'is_archived') {
    return '❌ I can’t post in that conversation. Invite me first (`/invite @stillmotion`), then try again.';
  }
  return undefined;
}

/** The mrkdwn reply for `err`, and whether it was expected (else it is logged as a fault). */
export function errorText(err: unknown, help = '`/animate help`'): { text: string; expected: boolean } {
  if (err instanceof Refusal) return { text: `❌ ${err.message}`, expected: true };
  const known = slackApiText(err);
  if (known) return { text: known, expected: true };
  return userError(err, mrkdwn, help);
}
