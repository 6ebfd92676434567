/**
 * The admin actions, the same on every platform: list, cancel, pause, resume, clear, limit and
 * quota, with one set of messages and the ranges of src/service/admin-ranges.ts. The adapters
 * decide who is an admin and who an operator, read the arguments their way (Discord's options,
 * Slack's text), log, and show the answer.
 */
import {
  DAILY_QUOTA,
  inRange,
  MAX_QUEUED_LIMIT,
  PER_USER_LIMIT,
  type Range,
  rangeText,
} from '../service/admin-ranges.ts';
import { refuse } from '../service/errors.ts';
import type { Actor, JobService, JobView, QueueView } from '../service/types.ts';
import { Refusal } from './refusal.ts';
import { formatEta } from './render.ts';

export type AdminRequest =
  | { readonly action: 'list' | 'pause' | 'resume' | 'clear' }
  | { readonly action: 'cancel'; readonly job: string }
  | { readonly action: 'limit'; readonly perUser: number; readonly maxQueued?: number }
  | { readonly action: 'quota'; readonly user: number; readonly place?: number };

export type AdminAction = AdminRequest['action'];

/** Who asks, and which jobs are theirs to see and act on. */
export interface AdminScope {
  readonly actor: Actor;
  /** Acts on the whole queue (every job, pause, limits); else only on the jobs `here`. */
  readonly operator: boolean;
  /** Whether a job belongs where the admin asks from (its guild on Discord). */
  readonly here: (job: JobView) => boolean;
  /** What "here" is called in messages: `server`, `workspace`. */
  readonly place: string;
  /** Where the jobs a non-operator does not see are, in words: `of other servers or Slack`. */
  readonly others: string;
}

export interface AdminAnswer {
  /** The answer's first line (the whole answer but for `list`). */
  readonly head: string;
  /** `list`: one line per job. */
  readonly lines: readonly string[];
  /** What to log with the action: counts, the target, the new settings. */
  readonly log: Readonly<Record<string, unknown>>;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function age(job: JobView): string {
  const s = Math.max(0, Math.round((Date.now() - job.created_at) / 1000));
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h`;
}

/** One job; `who` is its user, or `elsewhere` for a job outside the scope (never its user). */
function jobLine(job: JobView, who: string): string {
  const where =
    job.state === 'queued' ? `#${job.position}` : `step ${job.progress.step}/${job.progress.steps}`;
  return `\`${job.id}\` ${job.state} ${where} · ${who} · ${age(job)} old · ETA ${formatEta(job.eta_s)}`;
}

function listAnswer(q: QueueView, scope: AdminScope): AdminAnswer {
  const jobs = [...q.running, ...q.queued];
  const here = jobs.filter(scope.here);
  const elsewhere = jobs.filter((j) => !scope.here(j));
  const head = `Queue ${q.paused ? 'paused' : 'running'} · ${q.running.length} running, ${q.queued.length} queued · limits: ${q.limits.per_user} per user, ${q.limits.max_queued} queued`;
  const lines = here.map((j) => jobLine(j, j.user));
  if (scope.operator) lines.push(...elsewhere.map((j) => jobLine(j, 'elsewhere')));
  else if (elsewhere.length > 0) lines.push(`(+ ${plural(elsewhere.length, 'job')} ${scope.others})`);
  if (jobs.length === 0) lines.push('(no jobs waiting or running)');
  return { head, lines, log: { running: q.running.length, queued: q.queued.length } };
}

/** Cancels the waiting jobs in scope, one by one (the service's clear is queue-wide). */
async function clearHere(service: JobService, scope: AdminScope): Promise<number> {
  const q = await service.queue();
  let canceled = 0;
  for (const waiting of q.queued.filter(scope.here)) {
    // Clear cancels waiting jobs only: one that started meanwhile is left to run.
    const job = await service.get(waiting.id);
    if (job?.state !== 'queued') continue;
    if ((await service.cancel(job.id, scope.actor)).state === 'canceled') canceled++;
  }
  return canceled;
}

/** Refuses a value outside its range, naming it and the range. */
export function checkRange(what: string, value: number, range: Range): number {
  if (!inRange(value, range)) {
    throw new Refusal(
      'bad_limit',
      `${what} must be a whole number within ${rangeText(range)} (got ${value}).`,
    );
  }
  return value;
}

const answer = (head: string, log: Record<string, unknown> = {}): AdminAnswer => ({ head, lines: [], log });

export async function runAdminAction(
  service: JobService,
  scope: AdminScope,
  req: AdminRequest,
): Promise<AdminAnswer> {
  switch (req.action) {
    case 'list':
      return listAnswer(await service.queue(), scope);
    case 'cancel': {
      const job = await service.get(req.job);
      // A job outside the scope is answered like a missing one: its id says nothing here.
      if (!job || (!scope.operator && !scope.here(job)))
        throw refuse('not_found', `job ${req.job} not found`);
      const after = await service.cancel(job.id, scope.actor);
      const who = scope.here(job) ? after.user : 'elsewhere';
      const head =
        after.state === 'canceled'
          ? `✖️ Canceled \`${after.id}\` (${who}).`
          : `✖️ Job \`${after.id}\` (${who}) is ${after.state}.`;
      return answer(head, { target: job.id, state: after.state });
    }
    case 'pause': {
      const r = await service.pause();
      return answer('⏸️ Paused: no new job starts; the running one finishes. Jobs are still accepted.', r);
    }
    case 'resume':
      return answer('▶️ Resumed.', await service.resume());
    case 'clear': {
      if (scope.operator) {
        const { canceled } = await service.clear();
        return answer(`🧹 Cleared the whole queue: ${plural(canceled, 'waiting job')} canceled.`, {
          canceled,
        });
      }
      const canceled = await clearHere(service, scope);
      return answer(`🧹 Cleared this ${scope.place}'s jobs: ${plural(canceled, 'waiting job')} canceled.`, {
        canceled,
      });
    }
    case 'limit': {
      checkRange('The per-user limit', req.perUser, PER_USER_LIMIT);
      if (req.maxQueued !== undefined) checkRange('The queue limit', req.maxQueued, MAX_QUEUED_LIMIT);
      const limits = await service.setLimits({
        per_user: req.perUser,
        ...(req.maxQueued !== undefined ? { max_queued: req.maxQueued } : {}),
      });
      return answer(`✅ Limits: ${limits.per_user} jobs per user, ${limits.max_queued} in the queue.`, {
        limits,
      });
    }
    case 'quota': {
      if (!service.setQuotas) return answer('This service keeps no quotas.');
      checkRange('The daily quota per user', req.user, DAILY_QUOTA);
      if (req.place !== undefined) checkRange(`The daily quota per ${scope.place}`, req.place, DAILY_QUOTA);
      const quotas = await service.setQuotas({
        user: req.user,
        ...(req.place !== undefined ? { guild: req.place } : {}),
      });
      const show = (n: number) => (n > 0 ? `${n} a day` : 'none');
      return answer(
        `✅ Daily quotas: ${show(quotas.user)} per user, ${show(quotas.guild)} per ${scope.place} (UTC days).`,
        { quotas },
      );
    }
  }
}
