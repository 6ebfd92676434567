/** Output sizes (README.md, "Options") on the tiny model (128×64) and on SVD (1024×576). */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../engine/src/errors.ts';
import type { SizeMode } from '../../engine/src/options.ts';
import { chooseSize } from '../../engine/src/sizes.ts';

const TINY = { width: 128, height: 64 };
const SVD = { width: 1024, height: 576 };

type Row = readonly [mode: SizeMode, srcWidth: number, srcHeight: number, width: number, height: number];

function check(model: { width: number; height: number }, rows: readonly Row[]): void {
  for (const [mode, sw, sh, width, height] of rows) {
    expect([mode, sw, sh, chooseSize(mode, sw, sh, model)]).toEqual([mode, sw, sh, { width, height }]);
  }
}

describe('chooseSize on the tiny model (128×64)', () => {
  it('landscape, portrait and square ignore the picture', () => {
    check(TINY, [
      ['landscape', 1920, 1080, 128, 64],
      ['landscape', 1080, 1920, 128, 64],
      ['portrait', 1920, 1080, 64, 128],
      ['portrait', 500, 500, 64, 128],
      // √(128·64) = 90.5 → 64
      ['square', 1920, 1080, 64, 64],
      ['square', 10, 1000, 64, 64],
    ]);
  });

  it('auto follows the picture’s aspect with about 128·64 pixels, sides in [64, 256]', () => {
    check(TINY, [
      ['auto', 1920, 1080, 128, 64],
      ['auto', 2000, 1000, 128, 64],
      ['auto', 1080, 1920, 64, 128],
      ['auto', 4000, 3000, 128, 64],
      ['auto', 1000, 1000, 64, 64], // 64×64 and 128×128 are equally far in pixels: the smaller wins
      ['auto', 10_000, 1000, 256, 64], // the widest allowed
      ['auto', 1000, 10_000, 64, 256],
      ['auto', 100_000, 1, 256, 64],
      ['auto', 1, 100_000, 64, 256],
    ]);
  });

  it('never produces the real model’s size for the tiny model', () => {
    for (const mode of ['auto', 'landscape', 'portrait', 'square'] as const) {
      for (const [sw, sh] of [
        [1024, 576],
        [576, 1024],
        [1920, 1080],
        [3000, 3000],
      ]) {
        const { width, height } = chooseSize(mode, sw, sh, TINY);
        expect(Math.max(width, height)).toBeLessThanOrEqual(256);
        expect([width, height]).not.toEqual([1024, 576]);
      }
    }
  });
});

describe('chooseSize on SVD (1024×576)', () => {
  it('landscape, portrait and square', () => {
    check(SVD, [
      ['landscape', 800, 1200, 1024, 576],
      ['portrait', 1920, 1080, 576, 1024],
      // √(1024·576) = 768
      ['square', 1920, 1080, 768, 768],
    ]);
  });

  it('auto for common and extreme aspects', () => {
    check(SVD, [
      ['auto', 1920, 1080, 1024, 576], // 16:9: the native size
      ['auto', 1080, 1920, 576, 1024],
      ['auto', 1023, 577, 1024, 576], // nearly 16:9
      ['auto', 1000, 1000, 768, 768],
      ['auto', 4000, 3000, 896, 640], // 4:3 → 1.4 (896×672 is not a multiple of 64)
      ['auto', 3000, 4000, 640, 896],
      ['auto', 6000, 4000, 960, 640], // 3:2 exactly
      ['auto', 2000, 1000, 1024, 512], // 2:1; 1152×576 is as far in pixels, the smaller wins
      ['auto', 2560, 1080, 1216, 512], // 21:9
      ['auto', 10_000, 1000, 1920, 192], // 10:1 exactly
      ['auto', 1000, 10_000, 192, 1920],
      ['auto', 100_000, 1, 2048, 192], // as wide as allowed: 2·1024
      ['auto', 1, 100_000, 192, 2048],
    ]);
  });

  it('auto always gives multiples of 64 within [64, 2048] and W·H/2 … 2·W·H pixels', () => {
    for (let sw = 50; sw <= 8000; sw += 397) {
      for (let sh = 50; sh <= 8000; sh += 411) {
        const { width, height } = chooseSize('auto', sw, sh, SVD);
        expect(width % 64).toBe(0);
        expect(height % 64).toBe(0);
        expect(Math.min(width, height)).toBeGreaterThanOrEqual(64);
        expect(Math.max(width, height)).toBeLessThanOrEqual(2048);
        expect(width * height).toBeGreaterThanOrEqual((1024 * 576) / 2);
        expect(width * height).toBeLessThanOrEqual(1024 * 576 * 2);
        // Never further from the picture's aspect than the native size or its portrait is.
        const off = (w: number, h: number) => Math.abs(Math.log(w / h / (sw / sh)));
        expect(off(width, height)).toBeLessThanOrEqual(Math.min(off(1024, 576), off(576, 1024)) + 1e-9);
      }
    }
  });
});

describe('chooseSize refusals', () => {
  it('refuses non-positive picture sizes and unknown modes', () => {
    expect(() => chooseSize('auto', 0, 100, SVD)).toThrow(EngineError);
    expect(() => chooseSize('auto', 100, Number.NaN, SVD)).toThrow(EngineError);
    expect(() => chooseSize('huge' as SizeMode, 100, 100, SVD)).toThrow(/unknown size mode "huge"/);
  });
});
