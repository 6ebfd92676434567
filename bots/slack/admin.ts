/**
 * `/animate-queue list|cancel <job>|pause|resume|clear|limit <per_user> [max_queued]|quota …`, for
 * SLACK_ADMIN_USERS only. The actions and their words are the shared ones (src/chat/admin.ts);
 * Slack's admins act on the whole queue. Every action, and every refusal, is logged with who asked.
 */
import { type AdminRequest, runAdminAction } from '../../src/chat/admin.ts';
import { actorOf, isAdmin, type SlackDeps, slackUserId } from './context.ts';
import { mrkdwn } from './mrkdwn.ts';

export const ADMIN_USAGE =
  'Usage: `/animate-queue list`, `cancel <job id>`, `pause`, `resume`, `clear`, `limit <per user> [max queued]`, `quota <per user a day> [per workspace a day]` (0: none).';

const count = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

/** The typed action and its arguments, or the reply that says what is wrong with them. */
function request(action: string, args: readonly string[]): AdminRequest | string {
  const [first, second] = args;
  const numbers = [count(first), count(second)] as const;
  const wholeNumbers = numbers[0] !== undefined && (second === undefined || numbers[1] !== undefined);
  switch (action) {
    case 'list':
    case 'pause':
    case 'resume':
    case 'clear':
      return { action };
    case 'cancel':
      return first ? { action, job: first } : `❌ Give the job id. ${ADMIN_USAGE}`;
    case 'limit':
      if (!wholeNumbers) return `❌ The limits must be whole numbers. ${ADMIN_USAGE}`;
      return { action, perUser: numbers[0]!, ...(numbers[1] !== undefined ? { maxQueued: numbers[1] } : {}) };
    case 'quota':
      if (!wholeNumbers) return `❌ The daily quotas must be whole numbers ≥ 0. ${ADMIN_USAGE}`;
      return { action, user: numbers[0]!, ...(numbers[1] !== undefined ? { place: numbers[1] } : {}) };
    default:
      return `❌ Unknown action “${mrkdwn(action)}”. ${ADMIN_USAGE}`;
  }
}

/** Runs one admin command and answers the text to show (ephemerally) to the admin. */
export async function runAdminCommand(
  deps: SlackDeps,
  team: string,
  user: string,
  text: string,
): Promise<string> {
  const who = slackUserId(team, user);
  const [action = 'list', ...args] = text.trim().split(/\s+/).filter(Boolean);
  if (!isAdmin(deps.config, team, user)) {
    deps.logger.warn(
      { admin: who, action, allowed: false },
      'slack admin: refused (not in SLACK_ADMIN_USERS)',
    );
    return '🚫 Only admins listed in SLACK_ADMIN_USERS can manage the queue.';
  }
  const req = request(action.toLowerCase(), args);
  if (typeof req === 'string') return req;
  const answer = await runAdminAction(
    deps.service,
    { actor: actorOf(deps, team, user), operator: true, here: () => true, place: 'workspace', others: '' },
    req,
  );
  deps.logger.info({ admin: who, action, ...answer.log }, 'slack admin action');
  return [answer.head, ...answer.lines].join('\n');
}
