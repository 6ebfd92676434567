import { describe, expect, it } from 'vitest';
import { OptionError } from '../../engine/src/errors.ts';
import {
  formatOptions,
  optionDefaults,
  optionSpecs,
  optionValueText,
  parseGuidance,
  resolveOptions,
} from '../../engine/src/options.ts';

const tiny = { frames: 14, fps: 7, motion: 127 };

function optionError(fn: () => unknown): OptionError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OptionError) return err;
    throw err;
  }
  throw new Error('expected an OptionError');
}

describe('resolveOptions', () => {
  it('fills defaults from the model and the table', () => {
    const o = resolveOptions({ seed: 5 }, tiny);
    expect(o).toMatchObject({
      motion: 127,
      fps: 7,
      frames: 14,
      steps: 25,
      seed: 5,
      noise: 0.02,
      guidance: [1, 3],
      size: 'auto',
      format: 'mp4',
      loop: 'off',
      smooth: 'off',
      prompt: '',
    });
  });

  it('accepts every loop and smooth value, in any case', () => {
    for (const loop of ['off', 'boomerang', 'fade'])
      expect(resolveOptions({ loop: loop.toUpperCase() }, tiny).loop).toBe(loop);
    for (const smooth of ['off', '2x', '3x', '4x'])
      expect(resolveOptions({ smooth }, tiny).smooth).toBe(smooth);
    // The most smooth allows: 30 fps × 2 = 60 for MP4, 12 × 4 = 48 for GIF, fade at 4 frames.
    expect(resolveOptions({ fps: 30, smooth: '2x' }, tiny).smooth).toBe('2x');
    expect(resolveOptions({ fps: 12, smooth: '4x', format: 'gif' }, tiny).smooth).toBe('4x');
    expect(resolveOptions({ frames: 4, loop: 'fade' }, tiny).loop).toBe('fade');
    expect(resolveOptions({ frames: 2, loop: 'boomerang' }, tiny).loop).toBe('boomerang');
  });

  it.each([
    [{ loop: 'fade', frames: 3 }, 'loop', /loop fade needs at least 4 frames \(got --frames 3\)/],
    [
      { smooth: '3x', fps: 30 },
      'smooth',
      /smooth 3x at --fps 30 would play at 90 fps; MP4 plays at most 60 fps: use --smooth 2x/,
    ],
    [{ smooth: '4x', fps: 16 }, 'smooth', /would play at 64 fps; MP4 plays at most 60 fps: use --smooth 3x/],
    [
      { smooth: '4x', fps: 13, format: 'gif' },
      'smooth',
      /would play at 52 fps; GIF plays at most 50 fps: use --smooth 3x/,
    ],
    [{ smooth: '2x', fps: 26, format: 'gif' }, 'smooth', /GIF plays at most 50 fps: use a lower --fps/],
  ])(
    'refuses %j where loop or smooth cannot work with the other options, by name',
    (input, option, message) => {
      const err = optionError(() => resolveOptions(input, tiny));
      expect(err.option).toBe(option);
      expect(err.message).toMatch(message);
    },
  );

  it('draws a random seed when none is given', () => {
    const seeds = new Set(Array.from({ length: 5 }, () => resolveOptions({}, tiny).seed));
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('accepts motion presets and numbers given as text', () => {
    expect(resolveOptions({ motion: 'high' }, tiny).motion).toBe(200);
    expect(resolveOptions({ motion: 'LOW' }, tiny).motion).toBe(60);
    expect(resolveOptions({ motion: '180', fps: '8', guidance: '1.5-2.5' }, tiny)).toMatchObject({
      motion: 180,
      fps: 8,
      guidance: [1.5, 2.5],
    });
  });

  it.each([
    [{ motion: 0 }, 'motion', '1–255'],
    [{ motion: 256 }, 'motion', '1–255'],
    [{ motion: 'wild' }, 'motion', '1–255'],
    [{ fps: 31 }, 'fps', '1–30'],
    [{ fps: 7.5 }, 'fps', '1–30'],
    [{ frames: 1 }, 'frames', '2–14'],
    [{ frames: 15 }, 'frames', '2–14'],
    [{ steps: 51 }, 'steps', '1–50'],
    [{ seed: -1 }, 'seed', '0–4294967295'],
    [{ seed: 4294967296 }, 'seed', '0–4294967295'],
    [{ noise: 1.5 }, 'noise', '0–1'],
    [{ guidance: '3-1' }, 'guidance', 'min ≤ max'],
    [{ guidance: '0-11' }, 'guidance', '0–10'],
    [{ guidance: 'lots' }, 'guidance', 'min-max'],
    [{ size: 'huge' }, 'size', 'auto|landscape|portrait|square'],
    [{ format: 'webm' }, 'format', 'mp4|gif'],
    [{ loop: 'spin' }, 'loop', 'off|boomerang|fade'],
    [{ loop: '' }, 'loop', 'off|boomerang|fade'],
    [{ smooth: '5x' }, 'smooth', 'off|2x|3x|4x'],
    [{ smooth: '2' }, 'smooth', 'off|2x|3x|4x'],
    [{ prompt: 'x'.repeat(501) }, 'prompt', '500'],
  ])('refuses %j naming the option and its range, never clamping', (input, option, range) => {
    const err = optionError(() => resolveOptions(input, tiny));
    expect(err.option).toBe(option);
    expect(err.message).toContain(option);
    expect(err.message).toContain(range);
  });

  it('takes steps and guidance defaults, and the steps range, from the model (its scheduler)', () => {
    const lcm = { ...tiny, steps: 4, guidance: [1, 1.2] as const, maxSteps: 40 };
    expect(resolveOptions({ seed: 1 }, lcm)).toMatchObject({ steps: 4, guidance: [1, 1.2] });
    expect(resolveOptions({ seed: 1, steps: 40, guidance: '1-3' }, lcm)).toMatchObject({
      steps: 40,
      guidance: [1, 3],
    });
    expect(optionError(() => resolveOptions({ steps: 41 }, lcm)).message).toContain('1–40');
    const steps = optionSpecs(lcm).find((s) => s.name === 'steps')!;
    expect(steps).toMatchObject({ range: '1–40', max: 40, defaultText: 'model (4)' });
    expect(optionSpecs(lcm).find((s) => s.name === 'guidance')!.defaultText).toBe('model (1-1.2)');
    // Without those fields: SVD's 25 steps and 1-3, up to 50.
    expect(resolveOptions({ seed: 1 }, tiny)).toMatchObject({ steps: 25, guidance: [1, 3] });
    expect(optionSpecs(tiny).find((s) => s.name === 'steps')!.range).toBe('1–50');
  });

  it('names the maximum frames of the model', () => {
    expect(optionError(() => resolveOptions({ frames: 26 }, { ...tiny, frames: 25 })).message).toContain(
      '2–25',
    );
  });
});

describe('option table', () => {
  it('lists every option once with a range and default', () => {
    const names = optionSpecs(tiny).map((s) => s.name);
    expect(names).toEqual([
      'prompt',
      'motion',
      'fps',
      'frames',
      'steps',
      'seed',
      'noise',
      'guidance',
      'size',
      'format',
      'loop',
      'smooth',
      'steer',
    ]);
    for (const s of optionSpecs(tiny)) expect(s.range.length * s.defaultText.length).toBeGreaterThan(0);
  });

  it('holds the defaults once: the table shows, and the engine fills in, the same values', () => {
    const lcm = { frames: 25, fps: 6, motion: 80, steps: 4, guidance: [1, 1.2] as const, maxSteps: 40 };
    for (const model of [tiny, lcm]) {
      const { seed, ...resolved } = resolveOptions({}, model);
      expect(resolved).toEqual(optionDefaults(model));
      for (const spec of optionSpecs(model)) {
        if (spec.default === undefined) {
          expect(spec.name).toBe('seed');
          expect(spec.defaultText).toBe('random, always shown');
          continue;
        }
        expect(spec.default, spec.name).toEqual(resolved[spec.name as keyof typeof resolved]);
        const text = optionValueText(spec.default) || 'empty';
        if (spec.fromModel) expect(spec.defaultText).toBe(`model (${text})`);
        else expect(spec.defaultText.startsWith(text), spec.name).toBe(true);
      }
    }
    expect(optionSpecs(lcm).find((s) => s.name === 'fps')!.defaultText).toBe('model (6)');
    expect(optionSpecs(lcm).find((s) => s.name === 'motion')!.defaultText).toBe('model (80)');
    expect(optionSpecs(tiny).find((s) => s.name === 'steer')!.defaultText).toBe('0 (off)');
    expect(optionSpecs(tiny).find((s) => s.name === 'prompt')!.defaultText).toBe('empty');
  });

  it('formats options back in the grammar users type', () => {
    const o = resolveOptions({ seed: 9, motion: 'high', guidance: '1-2' }, tiny);
    expect(formatOptions(o)).toBe(
      '--motion 200 --fps 7 --frames 14 --steps 25 --seed 9 --noise 0.02 --guidance 1-2 --size auto --format mp4 --loop off --smooth off',
    );
    expect(parseGuidance('2 - 4')).toEqual([2, 4]);
  });
});
