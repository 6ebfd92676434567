import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ANIMATELCM,
  consistencySchedule,
  consistencyStep,
  eulerStep,
  inputScale,
  karrasSchedule,
  makeSchedule,
  schedulerStep,
  stepNeedsNoise,
} from '../../engine/src/scheduler.ts';

const reference = JSON.parse(readFileSync('test/fixtures/case_public/case.json', 'utf8'));
// Made by AnimateLCM's own scheduler (test/fixtures/make_animatelcm_case.py).
const lcmReference = JSON.parse(readFileSync('test/fixtures/case_animatelcm/case.json', 'utf8'));

describe('karrasSchedule', () => {
  it("matches diffusers' sigmas and continuous timesteps for the public case", () => {
    const s = karrasSchedule(reference.params.num_inference_steps);
    expect(s.sigmas.length).toBe(reference.sigmas.length);
    for (const [i, sigma] of (reference.sigmas as number[]).entries())
      expect(s.sigmas[i]).toBeCloseTo(sigma, 5);
    for (const [i, t] of (reference.timesteps as number[]).entries())
      expect(Math.abs(s.timesteps[i]! - t)).toBeLessThan(1e-6);
  });

  it('starts at sigma_max, ends at sigma_min then 0, and uses sqrt(σmax²+1) as init sigma', () => {
    const s = karrasSchedule(25);
    expect(s.sigmas[0]).toBeCloseTo(700, 3);
    expect(s.sigmas[24]).toBeCloseTo(0.002, 6);
    expect(s.sigmas[25]).toBe(0);
    expect(s.initNoiseSigma).toBeCloseTo(Math.sqrt(700 * 700 + 1), 9);
  });

  it('handles a single step (r_0 = 0)', () => {
    const s = karrasSchedule(1);
    expect([...s.sigmas]).toEqual([Math.fround(700), 0]);
  });

  it('rejects a non-positive step count', () => {
    expect(() => karrasSchedule(0)).toThrow(/positive integer/);
  });
});

describe('eulerStep (v-prediction)', () => {
  it('applies x0 = v·(−σ/√(σ²+1)) + x/(σ²+1), d = (x − x0)/σ, x += d·(σ_next − σ)', () => {
    const s = karrasSchedule(3);
    const sigma = s.sigmas[1]!;
    const next = s.sigmas[2]!;
    const x = new Float32Array([1.5, -2]);
    const v = new Float32Array([0.25, 0.5]);
    const expected = [...x].map((xi, k) => {
      const x0 = v[k]! * (-sigma / Math.sqrt(sigma * sigma + 1)) + xi / (sigma * sigma + 1);
      return Math.fround(xi + ((xi - x0) / sigma) * (next - sigma));
    });
    eulerStep(s, 1, x, v);
    expect([...x]).toEqual(expected);
  });

  it('lands on the predicted clean sample at the last step (σ_N = 0)', () => {
    const s = karrasSchedule(2);
    const sigma = s.sigmas[1]!;
    const x = new Float32Array([0.3]);
    const v = new Float32Array([0.7]);
    const x0 = 0.7 * (-sigma / Math.sqrt(sigma * sigma + 1)) + 0.3 / (sigma * sigma + 1);
    eulerStep(s, 1, x, v);
    expect(x[0]).toBeCloseTo(x0, 6);
  });
});

describe('consistencySchedule (AnimateLCM)', () => {
  it.each(Object.keys(lcmReference.schedules))(
    "matches AnimateLCM's sigmas and timesteps for %s steps",
    (steps) => {
      const ref = lcmReference.schedules[steps] as { sigmas: number[]; timesteps: number[] };
      const s = consistencySchedule(Number(steps));
      expect([...s.sigmas]).toEqual(ref.sigmas.map(Math.fround));
      expect(s.timesteps.length).toBe(ref.timesteps.length);
      for (const [i, t] of ref.timesteps.entries()) expect(s.timesteps[i]).toBe(Math.fround(t));
    },
  );

  it('has the config of the AnimateLCM-SVD demo and its init sigma', () => {
    expect(lcmReference.scheduler).toMatchObject({
      name: ANIMATELCM.name,
      num_train_timesteps: ANIMATELCM.numTrainTimesteps,
      sigma_min: ANIMATELCM.sigmaMin,
      sigma_max: ANIMATELCM.sigmaMax,
      sigma_data: ANIMATELCM.sigmaData,
      s_noise: ANIMATELCM.sNoise,
      rho: ANIMATELCM.rho,
      clip_denoised: ANIMATELCM.clipDenoised,
    });
    expect(consistencySchedule(4).initNoiseSigma).toBeCloseTo(lcmReference.init_noise_sigma, 9);
    expect(makeSchedule(ANIMATELCM, 4)).toEqual(consistencySchedule(4));
  });

  it('refuses more steps than its train schedule has, and non-positive ones', () => {
    expect(() => consistencySchedule(41)).toThrow(/at most 40/);
    expect(() => consistencySchedule(0)).toThrow(/positive integer/);
  });

  it('scales the model input by sqrt(σ² + σ_data²)', () => {
    const s = consistencySchedule(2, { ...ANIMATELCM, sigmaData: 0.5 });
    const sigma = s.sigmas[1]!;
    expect(inputScale(s, 1)).toBeCloseTo(Math.sqrt(sigma * sigma + 0.25), 12);
  });
});

describe('consistencyStep', () => {
  const x = new Float32Array([1.5, -2]);
  const out = new Float32Array([0.25, -0.5]);
  const z = new Float32Array([0.1, -0.3]);
  const denoised = (sigma: number, d = 1) =>
    [...x].map(
      (xi, k) =>
        ((-sigma * d) / Math.sqrt(sigma * sigma + d * d)) * out[k]! +
        ((d * d) / (sigma * sigma + d * d)) * xi,
    );

  it('jumps to the denoised sample c_out·out + c_skip·x, then adds s_noise·z·σ_next', () => {
    const s = consistencySchedule(4, { ...ANIMATELCM, sNoise: 1.5 });
    const sample = Float32Array.from(x);
    const x0 = new Float32Array(2);
    consistencyStep(s, 1, sample, out, z, x0);
    // The denoised estimate, for previews.
    expect([...x0]).toEqual(denoised(s.sigmas[1]!).map(Math.fround));
    const next = s.sigmas[2]!;
    expect([...sample]).toEqual(denoised(s.sigmas[1]!).map((v, k) => Math.fround(v + z[k]! * 1.5 * next)));
  });

  it('lands on the denoised sample at the last step, with no noise, and clamps it when clip_denoised', () => {
    const s = consistencySchedule(2);
    const sample = Float32Array.from(x);
    consistencyStep(s, 1, sample, out);
    expect([...sample]).toEqual(denoised(s.sigmas[1]!).map(Math.fround));
    const clipped = Float32Array.from(x);
    const c = consistencySchedule(2, { ...ANIMATELCM, clipDenoised: true });
    consistencyStep(c, 1, clipped, new Float32Array([-5, 5]));
    expect([...clipped]).toEqual([1, -1]);
  });

  it('takes noise at every step but the last, and refuses to run without it', () => {
    const s = consistencySchedule(4);
    expect([0, 1, 2, 3].map((i) => stepNeedsNoise(s, i))).toEqual([true, true, true, false]);
    expect(stepNeedsNoise(karrasSchedule(4), 0)).toBe(false);
    expect(() => consistencyStep(s, 0, Float32Array.from(x), out)).toThrow(/needs 2 normal samples/);
  });

  it('is what schedulerStep runs for a consistency schedule, and Euler for an Euler one', () => {
    const lcm = consistencySchedule(3);
    const a = Float32Array.from(x);
    const b = Float32Array.from(x);
    schedulerStep(lcm, 0, a, out, z);
    consistencyStep(lcm, 0, b, out, z);
    expect(a).toEqual(b);
    const euler = karrasSchedule(3);
    const c = Float32Array.from(x);
    const d = Float32Array.from(x);
    schedulerStep(euler, 0, c, out, z);
    eulerStep(euler, 0, d, out);
    expect(c).toEqual(d);
  });
});
