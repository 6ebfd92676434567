/**
 * The Euler discrete scheduler as SVD uses it (v-prediction, Karras sigmas, continuous timesteps),
 * written as pure functions of the step index. diffusers keeps a hidden `_step_index`; we don't.
 * Source: diffusers `schedulers/scheduling_euler_discrete.py` with SVD's scheduler config.
 */

export interface Schedule {
  /** σ_0 … σ_{N−1}, then σ_N = 0. Stored as float32, as diffusers does. */
  readonly sigmas: Float32Array;
  /** t_i = 0.25 · ln σ_i: what the UNet receives as `timestep`. */
  readonly timesteps: Float32Array;
  /** sqrt(σmax² + 1): the initial latents are scaled by it. */
  readonly initNoiseSigma: number;
}

/** Karras sigmas with ρ = 7 between sigmaMax and sigmaMin, then a final 0. */
export function karrasSchedule(steps: number, sigmaMin = 0.002, sigmaMax = 700): Schedule {
  if (!Number.isInteger(steps) || steps < 1)
    throw new RangeError(`steps must be a positive integer (got ${steps})`);
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  const sigmas = new Float32Array(steps + 1);
  for (let i = 0; i < steps; i++) {
    const ramp = steps === 1 ? 0 : i / (steps - 1);
    sigmas[i] = (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho;
  }
  sigmas[steps] = 0;
  const timesteps = new Float32Array(steps);
  // diffusers computes 0.25 · log(σ) on the float32 sigma.
  for (let i = 0; i < steps; i++) timesteps[i] = 0.25 * Math.log(sigmas[i]);
  // diffusers: (max_sigma**2 + 1) ** 0.5 for "leading"/"linspace" spacing.
  return { sigmas, timesteps, initNoiseSigma: Math.sqrt(sigmaMax * sigmaMax + 1) };
}

/** The factor the model input is divided by at step i: sqrt(σ_i² + 1). */
export function inputScale(schedule: Schedule, i: number): number {
  const sigma = schedule.sigmas[i];
  return Math.sqrt(sigma * sigma + 1);
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
