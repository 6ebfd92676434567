import { describe, expect, it } from 'vitest';
import { NormalRng } from '../../engine/src/rng.ts';

describe('NormalRng', () => {
  it('gives the same draws for the same seed and different ones for another seed', () => {
    const a = new NormalRng(42).randn(1000);
    const b = new NormalRng(42).randn(1000);
    const c = new NormalRng(43).randn(1000);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('is standard normal: mean ≈ 0, variance ≈ 1, symmetric tails', () => {
    const n = 200_000;
    const x = new NormalRng(7).randn(n);
    let sum = 0;
    let sq = 0;
    let beyond2 = 0;
    for (const v of x) {
      sum += v;
      sq += v * v;
      if (Math.abs(v) > 2) beyond2++;
    }
    const mean = sum / n;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(sq / n - mean * mean - 1)).toBeLessThan(0.02);
    expect(beyond2 / n).toBeGreaterThan(0.04); // P(|z| > 2) = 0.0455
    expect(beyond2 / n).toBeLessThan(0.051);
  });

  it('accepts the whole uint32 seed range', () => {
    expect(new NormalRng(4294967295).randn(4).every(Number.isFinite)).toBe(true);
    expect(new NormalRng(0).randn(4)).not.toEqual(new NormalRng(4294967295).randn(4));
  });
});
