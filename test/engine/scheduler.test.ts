import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { eulerStep, karrasSchedule } from '../../engine/src/scheduler.ts';

const reference = JSON.parse(readFileSync('test/fixtures/case_public/case.json', 'utf8'));

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
