/**
 * The two schedulers a model folder may name, written as pure functions of the step index (diffusers
 * keeps a hidden `_step_index`; we don't):
 *
 * - `EulerDiscreteScheduler` as SVD uses it (v-prediction, Karras sigmas, continuous timesteps).
 *   Source: diffusers `schedulers/scheduling_euler_discrete.py` with SVD's scheduler config.
 * - `AnimateLCMSVDStochasticIterativeScheduler`, the consistency sampler of AnimateLCM-SVD-xt
 *   (G-U-N/AnimateLCM, `animatelcm_svd/animatelcm_scheduler.py`): Karras sigmas at N of its train
 *   indices, each step jumps to the denoised sample and adds fresh noise at the next sigma.
 */

export interface EulerConfig {
  readonly name: 'EulerDiscreteScheduler';
  readonly sigmaMin: number;
  readonly sigmaMax: number;
}

export interface AnimateLcmConfig {
  readonly name: 'AnimateLCMSVDStochasticIterativeScheduler';
  /** The train schedule's length: steps pick N of its indices, so at most this many steps. */
  readonly numTrainTimesteps: number;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  readonly sigmaData: number;
  /** Scale of the noise added between steps. */
  readonly sNoise: number;
  readonly rho: number;
  /** Clamp the denoised sample to [−1, 1] (AnimateLCM-SVD runs without). */
  readonly clipDenoised: boolean;
}

export type SchedulerConfig = EulerConfig | AnimateLcmConfig;
export type SchedulerName = SchedulerConfig['name'];

export const EULER: EulerConfig = Object.freeze({
  name: 'EulerDiscreteScheduler',
  sigmaMin: 0.002,
  sigmaMax: 700,
});

/** AnimateLCM-SVD-xt's values (its `app.py`), also what models/export writes. */
export const ANIMATELCM: AnimateLcmConfig = Object.freeze({
  name: 'AnimateLCMSVDStochasticIterativeScheduler',
  numTrainTimesteps: 40,
  sigmaMin: 0.002,
  sigmaMax: 700,
  sigmaData: 1,
  sNoise: 1,
  rho: 7,
  clipDenoised: false,
});

/** The option defaults each scheduler was tuned for, used when model.json names none. */
export const SCHEDULER_DEFAULTS: Readonly<
  Record<SchedulerName, { readonly steps: number; readonly guidance: readonly [number, number] }>
> = Object.freeze({
  EulerDiscreteScheduler: { steps: 25, guidance: [1, 3] },
  AnimateLCMSVDStochasticIterativeScheduler: { steps: 4, guidance: [1, 1.2] },
});

export interface Schedule {
  readonly config: SchedulerConfig;
  /** σ_0 … σ_{N−1}, then σ_N = 0. Stored as float32, as diffusers does. */
  readonly sigmas: Float32Array;
  /** t_i = 0.25 · ln σ_i: what the UNet receives as `timestep`. */
  readonly timesteps: Float32Array;
  /** sqrt(σmax² + 1): the initial latents are scaled by it. */
  readonly initNoiseSigma: number;
}

function checkSteps(steps: number, max = Number.POSITIVE_INFINITY): void {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`steps must be a positive integer (got ${steps})`);
  if (steps > max) throw new RangeError(`steps must be at most ${max} for this scheduler (got ${steps})`);
}

/** σ(r) = (σmax^(1/ρ) + r·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ for a ramp r in [0, 1], in float64. */
function karras(ramp: number, sigmaMin: number, sigmaMax: number, rho: number): number {
  const maxInvRho = sigmaMax ** (1 / rho);
  return (maxInvRho + ramp * (sigmaMin ** (1 / rho) - maxInvRho)) ** rho;
}

/** Euler's schedule: Karras sigmas with ρ = 7 from sigmaMax down to sigmaMin, then a final 0. */
export function karrasSchedule(
  steps: number,
  sigmaMin = EULER.sigmaMin,
  sigmaMax = EULER.sigmaMax,
): Schedule {
  checkSteps(steps);
  const sigmas = new Float32Array(steps + 1);
  for (let i = 0; i < steps; i++)
    sigmas[i] = karras(steps === 1 ? 0 : i / (steps - 1), sigmaMin, sigmaMax, 7);
  sigmas[steps] = 0;
  const timesteps = new Float32Array(steps);
  // diffusers computes 0.25 · log(σ) on the float32 sigma.
  for (let i = 0; i < steps; i++) timesteps[i] = 0.25 * Math.log(sigmas[i]);
  // diffusers: (max_sigma**2 + 1) ** 0.5 for "leading"/"linspace" spacing.
  return {
    config: { name: EULER.name, sigmaMin, sigmaMax },
    sigmas,
    timesteps,
    initNoiseSigma: Math.sqrt(sigmaMax * sigmaMax + 1),
  };
}

/**
 * AnimateLCM's schedule for N steps: the train indices 0, k, 2k, … (k = ⌊T/N⌋) as ramps i·k/(T−1),
 * Karras sigmas at those ramps (so the last sigma stays above sigmaMin unless N = T), then 0. The
 * timesteps are 0.25 · ln σ of the float64 sigma (the UNet reads them as float32).
 */
export function consistencySchedule(steps: number, config: AnimateLcmConfig = ANIMATELCM): Schedule {
  const T = config.numTrainTimesteps;
  checkSteps(steps, T);
  const stride = Math.floor(T / steps);
  const sigmas = new Float32Array(steps + 1);
  const timesteps = new Float32Array(steps);
  for (let i = 0; i < steps; i++) {
    const sigma = karras((i * stride) / (T - 1), config.sigmaMin, config.sigmaMax, config.rho);
    sigmas[i] = sigma;
    timesteps[i] = 0.25 * Math.log(sigma + 1e-44);
  }
  sigmas[steps] = 0;
  return { config, sigmas, timesteps, initNoiseSigma: Math.sqrt(config.sigmaMax * config.sigmaMax + 1) };
}

/** The schedule for `steps` steps of the scheduler `config` names. */
export function makeSchedule(config: SchedulerConfig, steps: number): Schedule {
  return config.name === 'EulerDiscreteScheduler'
    ? karrasSchedule(steps, config.sigmaMin, config.sigmaMax)
    : consistencySchedule(steps, config);
}

/** The most steps a scheduler can take. */
export function maxSteps(config: SchedulerConfig): number {
  return config.name === 'EulerDiscreteScheduler' ? Number.POSITIVE_INFINITY : config.numTrainTimesteps;
}

/** The factor the model input is divided by at step i: sqrt(σ_i² + σ_data²) (σ_data = 1 for Euler). */
export function inputScale(schedule: Schedule, i: number): number {
  const sigma = schedule.sigmas[i];
  const sigmaData = schedule.config.name === 'EulerDiscreteScheduler' ? 1 : schedule.config.sigmaData;
  return Math.sqrt(sigma * sigma + sigmaData * sigmaData);
}

/**
 * Whether step i adds noise, and so takes a standard-normal draw the size of the latents: only the
 * consistency sampler does, and only while the next sigma is above 0 (the reference draws at the last
 * step too, but multiplies that draw by σ_N = 0).
 */
export function stepNeedsNoise(schedule: Schedule, i: number): boolean {
  return schedule.config.name !== 'EulerDiscreteScheduler' && schedule.sigmas[i + 1]! > 0;
}

/**
 * One Euler step for v-prediction, in place on `sample` (fp32):
 *   x0 = v · (−σ/√(σ²+1)) + x/(σ²+1);  d = (x − x0)/σ;  x ← x + d · (σ_{i+1} − σ_i)
 * With `denoised`, the estimate x0 is also written there (for previews).
 */
export function eulerStep(
  schedule: Schedule,
  i: number,
  sample: Float32Array,
  v: Float32Array,
  denoised?: Float32Array,
): void {
  const sigma = schedule.sigmas[i];
  const next = schedule.sigmas[i + 1];
  const s2 = sigma * sigma + 1;
  const cOut = -sigma / Math.sqrt(s2);
  const cSkip = 1 / s2;
  const dt = next - sigma;
  for (let k = 0; k < sample.length; k++) {
    const x = sample[k];
    const x0 = v[k] * cOut + x * cSkip;
    if (denoised) denoised[k] = x0;
    sample[k] = x + ((x - x0) / sigma) * dt;
  }
}

/**
 * One consistency step, in place on `sample` (fp32), with the boundary-condition scalings:
 *   c_skip = σd²/(σ²+σd²),  c_out = −σ·σd/√(σ²+σd²),  x0 = c_out · out + c_skip · x  (clamped if asked)
 *   x ← x0 + s_noise · z · σ_{i+1}
 * `noise` (z, standard normal, the size of `sample`) is needed when {@link stepNeedsNoise}.
 * With `denoised`, x0 is also written there (for previews).
 */
export function consistencyStep(
  schedule: Schedule,
  i: number,
  sample: Float32Array,
  out: Float32Array,
  noise?: Float32Array,
  denoised?: Float32Array,
): void {
  const config = schedule.config;
  if (config.name === 'EulerDiscreteScheduler')
    throw new Error('consistencyStep needs a consistency schedule');
  const sigma = schedule.sigmas[i]!;
  const next = Math.min(Math.max(schedule.sigmas[i + 1]!, 0), config.sigmaMax);
  const d2 = config.sigmaData * config.sigmaData;
  const cSkip = d2 / (sigma * sigma + d2);
  const cOut = (-sigma * config.sigmaData) / Math.sqrt(sigma * sigma + d2);
  const noiseScale = config.sNoise * next;
  if (next > 0 && (!noise || noise.length < sample.length))
    throw new RangeError(`step ${i} adds noise: it needs ${sample.length} normal samples`);
  for (let k = 0; k < sample.length; k++) {
    let x0 = cOut * out[k]! + cSkip * sample[k]!;
    if (config.clipDenoised) x0 = Math.min(1, Math.max(-1, x0));
    if (denoised) denoised[k] = x0;
    sample[k] = next > 0 ? x0 + noise![k]! * noiseScale : x0;
  }
}

/** Step i of whichever scheduler made `schedule`. */
export function schedulerStep(
  schedule: Schedule,
  i: number,
  sample: Float32Array,
  modelOutput: Float32Array,
  noise?: Float32Array,
  denoised?: Float32Array,
): void {
  if (schedule.config.name === 'EulerDiscreteScheduler')
    eulerStep(schedule, i, sample, modelOutput, denoised);
  else consistencyStep(schedule, i, sample, modelOutput, noise, denoised);
}
