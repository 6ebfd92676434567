/**
 * `/animate-queue list|cancel <job>|pause|resume|clear|limit <per_user> [max_queued]`, for
 * SLACK_ADMIN_USERS only. Every action, and every refusal, is logged with who asked.
 */
import { formatEta } from '../../src/chat/index.ts';
import type { JobView } from '../../src/service/types.ts';
import { actorOf, isAdmin, type SlackDeps, slackUserId } from './context.ts';
import { mrkdwn } from './mrkdwn.ts';

export const ADMIN_USAGE =
  'Usage: `/animate-queue list`, `cancel <job id>`, `pause`, `resume`, `clear`, `limit <per user> [max queued]`, `quota <per user a day> [per workspace a day]` (0: none).';

function age(job: JobView): string {
  const s = Math.max(0, Math.round((Date.now() - job.created_at) / 1000));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h`;
}

function line(job: JobView): string {
  const where =
    job.state === 'queued' ? `#${job.position}` : `step ${job.progress.step}/${job.progress.steps}`;
  return `• \`${job.id}\` ${job.user} · ${job.state} ${where} · age ${age(job)} · ETA ${formatEta(job.eta_s)}`;
}

const count = (v: string | undefined) => (v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined);

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
  const log = (extra: Record<string, unknown>) =>
    deps.logger.info({ admin: who, action, ...extra }, 'slack admin action');
  const { service } = deps;
  switch (action.toLowerCase()) {
    case 'list': {
      const q = await service.queue();
      log({ running: q.running.length, queued: q.queued.length });
      const jobs = [...q.running, ...q.queued];
      const head = `Queue ${q.paused ? '⏸ paused' : '▶ running'} · limits: ${q.limits.per_user} per user, ${q.limits.max_queued} queued`;
      return [head, ...(jobs.length ? jobs.map(line) : ['(no jobs waiting or running)'])].join('\n');
    }
    case 'cancel': {
      const id = args[0];
      if (!id) return `❌ Give the job id. ${ADMIN_USAGE}`;
      const job = await service.cancel(id, actorOf(deps, team, user));
      log({ target: id, state: job.state });
      return `✖️ Job \`${mrkdwn(id)}\` (${job.user}) is ${job.state}.`;
    }
    case 'pause': {
      const r = await service.pause();
      log({ paused: r.paused });
      return '⏸ Paused: no new job starts; the running one finishes. Jobs are still accepted and wait.';
    }
    case 'resume': {
      const r = await service.resume();
      log({ paused: r.paused });
      return '▶ Resumed.';
    }
    case 'clear': {
      const r = await service.clear();
      log({ canceled: r.canceled });
      return `🧹 Cleared: ${r.canceled} queued job${r.canceled === 1 ? '' : 's'} canceled.`;
    }
    case 'limit': {
      const perUser = count(args[0]);
      const maxQueued = count(args[1]);
      if (
        perUser === undefined ||
        perUser < 1 ||
        (args[1] !== undefined && (maxQueued === undefined || maxQueued < 1))
      ) {
        return `❌ The limits must be whole numbers ≥ 1. ${ADMIN_USAGE}`;
      }
      const limits = await service.setLimits({
        per_user: perUser,
        ...(maxQueued !== undefined ? { max_queued: maxQueued } : {}),
      });
      log({ limits });
      return `✅ Limits: ${limits.per_user} per user, ${limits.max_queued} queued.`;
    }
    case 'quota': {
      const user = count(args[0]);
      const guild = count(args[1]);
      if (!service.setQuotas) return '❌ This service keeps no quotas.';
      if (user === undefined || (args[1] !== undefined && guild === undefined))
        return `❌ The daily quotas must be whole numbers ≥ 0. ${ADMIN_USAGE}`;
      const quotas = await service.setQuotas({ user, ...(guild !== undefined ? { guild } : {}) });
      log({ quotas });
      const show = (n: number) => (n > 0 ? `${n} a day` : 'none');
      return `✅ Daily quotas: ${show(quotas.user)} per user, ${show(quotas.guild)} per workspace.`;
    }
    default:
      return `❌ Unknown action “${mrkdwn(action)}”. ${ADMIN_USAGE}`;
  }
}
