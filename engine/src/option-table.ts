/**
 * The option table: one row per option, with its name, label, kind, range, default and help text.
 * Every surface is built from it (the CLI and its --help, the chat text and help, the Discord
 * command, the Slack modal, the HTTP form and the playground); options.ts checks values against it.
 * README.md, "Options", lists them for users.
 *
 * The defaults live here once, as values: {@link optionDefaults} gives them for a model (those that
 * depend on it come from model.json), and each row's `defaultText` is derived from its value.
 */
import type { ModelInfo } from './model-info.ts';
import type { AnimateOptions, LoopMode, OptionName, SmoothMode, VideoFormat } from './options.ts';
import { SCHEDULER_DEFAULTS } from './scheduler.ts';

/**
 * How a surface asks for the value: free `text` (up to `maxLength`), a whole or decimal `number` in
 * min–max, one of `choices`, a whole number or a named `preset`, or a `ramp` (`min-max`).
 */
export type OptionKind = 'text' | 'integer' | 'number' | 'choice' | 'preset' | 'ramp';

/** A default as the pipeline takes it: text, a number, or a ramp. */
export type OptionValue = string | number | readonly [number, number];

export interface OptionSpec {
  readonly name: OptionName;
  /** The field's label in forms (the Slack modal). */
  readonly label: string;
  readonly kind: OptionKind;
  /** Human range, as shown in help and errors. */
  readonly range: string;
  /** The value used when the option is not given; none for `seed` (drawn at random). */
  readonly default?: OptionValue;
  /** True where the default comes from the model folder's model.json. */
  readonly fromModel?: boolean;
  /** Human default, as shown in help: derived from `default` (see {@link defaultText}). */
  readonly defaultText: string;
  readonly description: string;
  /** What a form may say under the field that the range and default cannot. */
  readonly note?: string;
  /** Named values users may type instead of a number (motion: low/medium/high), or the only values. */
  readonly choices?: readonly string[];
  /** The numbers the named choices stand for (`preset` options). */
  readonly presets?: Readonly<Record<string, number>>;
  /** Numeric bounds where the option is a plain number (used by Discord min/max). */
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** The longest text (`text` options). */
  readonly maxLength?: number;
  /** Left out of short forms (the Slack modal); typed, it still rides along. */
  readonly advanced?: boolean;
}

/** The table for a model: every surface takes one (default: {@link optionSpecs}). */
export type OptionTable = (model?: OptionModel) => readonly OptionSpec[];

export const MOTION_PRESETS: Readonly<Record<string, number>> = Object.freeze({
  low: 60,
  medium: 127,
  high: 200,
});
export const MAX_PROMPT_CHARS = 500;
export const LOOP_MODES: readonly LoopMode[] = ['off', 'boomerang', 'fade'];
export const SMOOTH_FACTORS: Readonly<Record<SmoothMode, number>> = Object.freeze({
  off: 1,
  '2x': 2,
  '3x': 3,
  '4x': 4,
});
/** Highest playback rate `smooth` may reach: MP4, and GIF (whose delays are whole hundredths of a second). */
export const MAX_SMOOTH_FPS: Readonly<Record<VideoFormat, number>> = Object.freeze({ mp4: 60, gif: 50 });
/** `loop fade` cross-fades ⌊frames/4⌋ frames, so it needs at least this many. */
export const MIN_FADE_FRAMES = 4;
export const MAX_SEED = 4294967295;
/** The most denoising steps any model takes; a model's scheduler may allow fewer (ModelInfo.maxSteps). */
export const MAX_STEPS = 50;
// Defaults when no model is given: SVD's (its Euler scheduler), as models/tiny has them.
const { steps: DEFAULT_STEPS, guidance: DEFAULT_GUIDANCE } = SCHEDULER_DEFAULTS.EulerDiscreteScheduler;
const DEFAULT_MODEL = { frames: 25, fps: 7, motion: 127 } as const;

/**
 * What the option table needs from the model: its defaults and limits. `steps`, `guidance` and
 * `maxSteps` come from model.json's scheduler; without them, SVD's (25 steps, guidance 1-3, up to 50).
 * `steerable` unknown means "checked on submit".
 */
export type OptionModel = Pick<ModelInfo, 'frames' | 'fps' | 'motion'> &
  Partial<Pick<ModelInfo, 'steps' | 'guidance' | 'maxSteps'>> & {
    readonly steerable?: boolean;
  };

/** Every default but the seed's (drawn at random): the model's where it has one, else the table's. */
export function optionDefaults(model?: OptionModel): Omit<AnimateOptions, 'seed'> {
  return {
    prompt: '',
    motion: model?.motion ?? DEFAULT_MODEL.motion,
    fps: model?.fps ?? DEFAULT_MODEL.fps,
    frames: model?.frames ?? DEFAULT_MODEL.frames,
    steps: model?.steps ?? DEFAULT_STEPS,
    noise: 0.02,
    guidance: model?.guidance ?? DEFAULT_GUIDANCE,
    size: 'auto',
    format: 'mp4',
    loop: 'off',
    smooth: 'off',
    steer: 0,
  };
}

/** A value as users type it: `1-3` for a ramp. */
export function optionValueText(value: OptionValue): string {
  return typeof value === 'object' ? `${value[0]}-${value[1]}` : String(value);
}

/** A row without its derived text, plus what to say beside (or, with no default, instead of) the value. */
export type OptionRow = Omit<OptionSpec, 'defaultText'> & { readonly defaultNote?: string };

/** The default as help shows it: `model (7)`, `0.02`, `0 (off)`, `empty`, or the note alone. */
export function defaultText(row: OptionRow): string {
  if (row.default === undefined) return row.defaultNote ?? 'none';
  const text = optionValueText(row.default) || 'empty';
  if (row.fromModel) return `model (${text})`;
  return row.defaultNote ? `${text} (${row.defaultNote})` : text;
}

/** A table row with its `defaultText` filled in from its value. */
export function optionSpec(row: OptionRow): OptionSpec {
  const { defaultNote: _note, ...spec } = row;
  return { ...spec, defaultText: defaultText(row) };
}

/** The option table, in help order. Ranges and defaults that depend on the model come from `model`. */
export function optionSpecs(model?: OptionModel): readonly OptionSpec[] {
  const d = optionDefaults(model);
  const maxSteps = model?.maxSteps ?? MAX_STEPS;
  const rows: OptionRow[] = [
    {
      name: 'prompt',
      label: 'Prompt',
      kind: 'text',
      range: `text, ≤ ${MAX_PROMPT_CHARS} chars`,
      default: d.prompt,
      description: 'caption and alt text of the result',
      maxLength: MAX_PROMPT_CHARS,
    },
    {
      name: 'motion',
      label: 'Motion',
      kind: 'preset',
      range: '1–255 or low|medium|high',
      default: d.motion,
      fromModel: true,
      description: 'motion bucket: more means more motion',
      choices: Object.keys(MOTION_PRESETS),
      presets: MOTION_PRESETS,
      min: 1,
      max: 255,
      integer: true,
    },
    {
      name: 'fps',
      label: 'Frames per second',
      kind: 'integer',
      range: '1–30',
      default: d.fps,
      fromModel: true,
      description: 'conditioning fps and playback rate',
      min: 1,
      max: 30,
      integer: true,
    },
    {
      name: 'frames',
      label: 'Frames',
      kind: 'integer',
      range: `2–${d.frames}`,
      default: d.frames,
      fromModel: true,
      description: 'number of frames',
      min: 2,
      max: d.frames,
      integer: true,
    },
    {
      name: 'steps',
      label: 'Steps',
      kind: 'integer',
      range: `1–${maxSteps}`,
      default: d.steps,
      fromModel: true,
      description: 'denoising steps',
      min: 1,
      max: maxSteps,
      integer: true,
      advanced: true,
    },
    {
      name: 'seed',
      label: 'Seed (empty: random)',
      kind: 'integer',
      range: `0–${MAX_SEED}`,
      defaultNote: 'random, always shown',
      description: 'random seed',
      min: 0,
      max: MAX_SEED,
      integer: true,
    },
    {
      name: 'noise',
      label: 'Noise',
      kind: 'number',
      range: '0–1',
      default: d.noise,
      description: 'noise augmentation: more means less like the input',
      min: 0,
      max: 1,
      advanced: true,
    },
    {
      name: 'guidance',
      label: 'Guidance',
      kind: 'ramp',
      range: 'min-max, each 0–10, min ≤ max',
      default: d.guidance,
      fromModel: true,
      description: 'classifier-free guidance ramp over frames',
      advanced: true,
    },
    {
      name: 'size',
      label: 'Size',
      kind: 'choice',
      range: 'auto|landscape|portrait|square',
      default: d.size,
      description: 'output size',
      choices: ['auto', 'landscape', 'portrait', 'square'],
      advanced: true,
    },
    {
      name: 'format',
      label: 'Format',
      kind: 'choice',
      range: 'mp4|gif',
      default: d.format,
      description: 'output format',
      choices: ['mp4', 'gif'],
      advanced: true,
    },
    {
      name: 'loop',
      label: 'Loop',
      kind: 'choice',
      range: 'off|boomerang|fade',
      default: d.loop,
      description: 'boomerang: forward then back; fade: end blends into start',
      choices: LOOP_MODES,
    },
    {
      name: 'smooth',
      label: 'Smooth playback',
      kind: 'choice',
      range: 'off|2x|3x|4x',
      default: d.smooth,
      description: `motion-interpolated playback, fps × factor ≤ ${MAX_SMOOTH_FPS.mp4} (GIF ${MAX_SMOOTH_FPS.gif})`,
      choices: Object.keys(SMOOTH_FACTORS),
    },
    STEER_ROW,
  ];
  return rows.map(optionSpec);
}

/** The steer's row, on its own: experimental, off by default, and plain about what it is (steer.ts). */
const STEER_ROW: OptionRow = {
  name: 'steer',
  label: 'Steer toward the prompt (experimental)',
  kind: 'number',
  range: '0–1',
  default: 0,
  defaultNote: 'off',
  description: 'EXPERIMENTAL CLIP prompt steer; SVD was not trained with text; results vary',
  note:
    "Experimental. Turns the picture's CLIP embedding toward the prompt's CLIP text embedding. Stable Video " +
    'Diffusion was not trained with text, so results vary, and often nothing visible changes.',
  min: 0,
  max: 1,
};

/** The row of `name` in `specs`, if it has one. */
export function findSpec(specs: readonly OptionSpec[], name: string): OptionSpec | undefined {
  return specs.find((s) => s.name === name);
}
