/**
 * The follow-up actions on a job's buttons, the same on every platform: who may press them, and
 * the options of the new job that 🔁 Reroll (a seed that is guaranteed new) and ➕/➖ motion
 * (±{@link MOTION_STEP}, the same seed) start. The adapters draw the buttons, fetch the picture
 * again and make the API calls.
 */
import { type AnimateOptions, randomSeed } from '@stillmotion/engine';
import { refuse } from '../service/errors.ts';
import type { Actor, JobService, JobView } from '../service/types.ts';
import { Refusal } from './refusal.ts';
import { MOTION_STEP, nextMotion } from './render.ts';

/** The buttons that start a new job from an ended one. */
export type FollowUp = 'reroll' | 'more' | 'less';

/** Who pressed a button, as the platform knows it. */
export interface Presser {
  /** The namespaced user id (`discord:…`, `slack:…`). */
  readonly user: string;
  /** Whether the presser is an admin for this job (its own guild's, or the workspace's). */
  readonly isAdmin: (job: JobView) => boolean;
  /** How the job's owner is named in the refusal (a platform mention). */
  readonly owner: (job: JobView) => string;
  /** Called before a refusal is thrown (to log it with the platform's details). */
  readonly onRefused?: (job: JobView) => void;
}

/**
 * The job behind a button, and the actor to act on it as: its owner or an admin; anyone else gets
 * a {@link Refusal}, a job that is gone a 404.
 */
export async function pressedJob(
  service: Pick<JobService, 'get'>,
  jobId: string,
  presser: Presser,
): Promise<{ job: JobView; actor: Actor }> {
  const job = await service.get(jobId);
  if (!job) throw refuse('not_found', `job ${jobId} not found`);
  const admin = presser.isAdmin(job);
  if (job.user !== presser.user && !admin) {
    presser.onRefused?.(job);
    throw new Refusal('not_owner', `Only ${presser.owner(job)} or an admin can use these buttons.`);
  }
  return { job, actor: { user: presser.user, admin } };
}

/** A seed from `random` that is not `old`. */
export function newSeed(old: number, random: () => number = randomSeed): number {
  let seed = random();
  while (seed === old) seed = random();
  return seed;
}

/**
 * Every option as the job had it (loop, smooth, … included), with the new seed (Reroll) or the
 * new motion (More / Less motion). Refuses a motion that would leave 1–255.
 */
export function followUpOptions(
  job: Pick<JobView, 'options' | 'seed'>,
  action: FollowUp,
  random: () => number = randomSeed,
): AnimateOptions {
  if (action === 'reroll') return { ...job.options, seed: newSeed(job.seed, random) };
  const motion = nextMotion(job, action === 'more' ? MOTION_STEP : -MOTION_STEP);
  if (motion === null) {
    throw new Refusal('motion_range', `Motion is already ${job.options.motion}; it must stay within 1–255.`);
  }
  return { ...job.options, motion, seed: job.seed };
}
