import { OptionError, optionSpecs, resolveOptions } from '@stillmotion/engine';
import { describe, expect, it } from 'vitest';
import { helpText } from '../../src/chat/help-text.ts';
import { parseChatText, tokenize } from '../../src/chat/option-text.ts';

const model = { frames: 14, fps: 7, motion: 127 };

function optionErrorOf(fn: () => unknown): OptionError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OptionError);
    return err as OptionError;
  }
  throw new Error('expected an OptionError');
}

describe('parseChatText', () => {
  it('splits prompt words from --x, -x and --x=v options', () => {
    const r = parseChatText('waves crashing --motion 180 -fps 8 --seed=42 on rocks');
    expect(r).toEqual({
      prompt: 'waves crashing on rocks',
      options: { prompt: 'waves crashing on rocks', motion: '180', fps: '8', seed: '42' },
      help: false,
    });
  });

  it('accepts every option of the engine table, named values, guidance ranges and quotes', () => {
    const r = parseChatText(
      '--prompt "a cat" --motion high --frames 4 --steps 2 --noise 0.1 --guidance 1-3 --size square --format gif --loop fade -smooth 2x',
    );
    expect(r.options).toEqual({
      prompt: 'a cat',
      motion: 'high',
      frames: '4',
      steps: '2',
      noise: '0.1',
      guidance: '1-3',
      size: 'square',
      format: 'gif',
      loop: 'fade',
      smooth: '2x',
    });
    const resolved = resolveOptions(r.options, model);
    expect(resolved).toMatchObject({ loop: 'fade', smooth: '2x' });
    expect(resolved.motion).toBe(200);
    expect(resolved.guidance).toEqual([1, 3]);
  });

  it('takes phone dashes (—motion) as --motion', () => {
    expect(parseChatText('sea —motion 90 –fps 6').options).toEqual({ prompt: 'sea', motion: '90', fps: '6' });
  });

  it('rejects an unknown option, naming it and listing the valid ones', () => {
    const err = optionErrorOf(() => parseChatText('cat --speed 3'));
    expect(err.option).toBe('speed');
    expect(err.message).toContain('--speed');
    for (const spec of optionSpecs()) expect(err.message).toContain(`--${spec.name}`);
  });

  it('rejects a missing value and a repeated option', () => {
    expect(optionErrorOf(() => parseChatText('cat --motion')).option).toBe('motion');
    expect(optionErrorOf(() => parseChatText('cat --fps --seed 1')).option).toBe('fps');
    expect(optionErrorOf(() => parseChatText('--seed 1 --seed 2')).message).toMatch(/twice/);
  });

  it('never clamps: out-of-range values are refused with the range when a model is given', () => {
    const err = optionErrorOf(() => parseChatText('cat --motion 300', model));
    expect(err.option).toBe('motion');
    expect(err.message).toContain('1–255');
    expect(optionErrorOf(() => parseChatText('cat --frames 30', model)).message).toContain('2–14');
    expect(parseChatText('cat --motion 300').options.motion).toBe('300');
  });

  it('reads a negative number as a value, not an option', () => {
    expect(optionErrorOf(() => parseChatText('x --seed -1', model)).option).toBe('seed');
  });

  it('recognises help', () => {
    expect(parseChatText('help').help).toBe(true);
    expect(parseChatText('  --help ').help).toBe(true);
    expect(parseChatText('-h').help).toBe(true);
    expect(parseChatText('help me animate').help).toBe(false);
  });

  it('tokenizes quoted runs', () => {
    expect(tokenize(`a "b c" “d e”  'f'`)).toEqual(['a', 'b c', 'd e', 'f']);
  });
});

describe('helpText', () => {
  it('lists every option with its range and default', () => {
    const text = helpText(model, { usage: 'Use `/animate`' });
    for (const spec of optionSpecs(model)) {
      expect(text).toContain(`\`--${spec.name}\` ${spec.range} (default: ${spec.defaultText})`);
    }
    expect(text).toContain('2–14');
    expect(text).toContain('Use `/animate`');
  });
});

describe('the experimental steer in chat text and help', () => {
  it('reads --steer like any option, checks its range, and refuses it where the model has no text encoder', () => {
    expect(parseChatText('waves at dusk --steer 0.3', model).options).toMatchObject({
      prompt: 'waves at dusk',
      steer: '0.3',
    });
    expect(() => parseChatText('waves --steer 2', model)).toThrow(/steer must be in 0–1/);
    expect(() => parseChatText('waves --steer 0.3', { ...model, steerable: false })).toThrow(
      /steer needs a CLIP text encoder.*--text-encoder/,
    );
    expect(parseChatText('waves --steer 0', { ...model, steerable: false }).options).toMatchObject({
      steer: '0',
    });
  });

  it('says in help that it is experimental, that SVD was not trained with text, and that results vary', () => {
    const line = helpText(model)
      .split('\n')
      .find((l) => l.includes('`--steer`'));
    expect(line).toMatch(/0–1 \(default: 0 \(off\)\): EXPERIMENTAL.*not trained with text; results vary/);
  });
});
