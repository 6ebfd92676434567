/**
 * Text both chat adapters show for a job: the progress line that is edited as the job moves
 * (queue position and ETA, then a bar with step i/N and ETA, then encoding), the caption of the
 * result (prompt, seed, options) and the motion of the More/Less motion buttons. User text in them
 * (the prompt, an error that may quote it) goes through the platform's `inert` escape, so that it cannot
 * ping, link or format anything.
 */
import { type AnimateOptions, describePlayback, formatOptions } from '@stillmotion/engine';
import type { QuotaUsage } from '../service/quota.ts';
import type { JobView } from '../service/types.ts';

/** Makes user text inert in one platform's markup (Slack mrkdwn, Discord markdown). */
export type Escape = (userText: string) => string;

/** For places no markup reads (plain-text fields, logs). */
export const verbatim: Escape = (text) => text;

/** `~45 s`, `~2 min 5 s`, `~1 h 3 min`; `unknown` when the service has no estimate yet. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return 'unknown';
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `~${s} s`;
  if (s < 3600) return `~${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  return `~${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** A fixed-width bar, e.g. `▰▰▰▱▱▱▱▱▱▱` for 3/10. */
export function progressBar(done: number, total: number, width = 12): string {
  const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
  const full = Math.round(frac * width);
  return '▰'.repeat(full) + '▱'.repeat(width - full);
}

/** "in ~20 s" for an estimated start, "soon" when unknown, "now" when due. */
function startsIn(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'soon';
  return seconds <= 0 ? 'now' : `in ${formatEta(seconds)}`;
}

/** The one-line status of a job, for the message that is edited while it waits and runs. */
export function renderProgress(job: JobView, inert: Escape): string {
  switch (job.state) {
    case 'queued':
      return `⏳ Queued${job.position > 0 ? `: position ${job.position}` : ''} · starts ${startsIn(job.start_eta_s)} · ETA ${formatEta(job.eta_s)}`;
    case 'running': {
      const { step, steps, chunk, chunks } = job.progress;
      if (job.encoding) return `📼 Encoding the video… ${progressBar(1, 1)}`;
      if (chunks > 0 && chunk > 0) {
        return `🎞️ Decoding ${progressBar(chunk, chunks)} chunk ${chunk}/${chunks} · ETA ${formatEta(job.eta_s)}`;
      }
      return `🎞️ Animating ${progressBar(step, steps)} step ${step}/${steps} · ETA ${formatEta(job.eta_s)}`;
    }
    case 'succeeded':
      return '✅ Done.';
    case 'failed':
      return `❌ Failed: ${inert(job.error ?? 'unknown error')}`;
    case 'canceled':
      return '✖️ Canceled.';
  }
}

/** True once the job can no longer change. */
export function isFinished(job: Pick<JobView, 'state'>): boolean {
  return job.state === 'succeeded' || job.state === 'failed' || job.state === 'canceled';
}

/**
 * The result's caption: prompt, seed, what was made (frames and rate after `loop` and `smooth`)
 * and every option in the grammar users type.
 */
export function renderCaption(job: Pick<JobView, 'options' | 'seed'>, inert: Escape): string {
  const prompt = job.options.prompt ? `“${inert(job.options.prompt)}”` : '(no prompt)';
  return `${prompt}\nseed ${job.seed} · ${describePlayback(job.options)} · \`${formatOptions({ ...job.options, seed: job.seed })}\``;
}

export const MOTION_STEP = 50;
export const MOTION_MIN = 1;
export const MOTION_MAX = 255;

/**
 * The motion for More (+50) / Less (−50) motion, or null when it would leave 1–255: the button
 * is then disabled (never clamped).
 */
export function nextMotion(
  job: { readonly options: Pick<AnimateOptions, 'motion'> },
  delta: number,
): number | null {
  const next = job.options.motion + delta;
  return next >= MOTION_MIN && next <= MOTION_MAX ? next : null;
}

/**
 * What is left of today's quotas, for `/jobs` and Slack's help: e.g. "Today: 3 of 5 jobs left for
 * you, 18 of 20 for this server · resets 00:00 UTC". Undefined when no quota applies.
 */
export function renderQuota(usage: QuotaUsage, guildWord = 'this server'): string | undefined {
  const parts = [
    usage.user && `${usage.user.left} of ${usage.user.limit} jobs left for you`,
    usage.guild && `${usage.guild.left} of ${usage.guild.limit} for ${guildWord}`,
  ].filter(Boolean);
  if (parts.length === 0) return undefined;
  const hours = Math.max(0, Math.ceil((usage.resets_at - Date.now()) / 3_600_000));
  return `Today: ${parts.join(', ')} · resets 00:00 UTC (in ${hours <= 1 ? 'under an hour' : `${hours} h`})`;
}
