/**
 * The one option grammar: the values every place a user sets an option (CLI flags, chat text,
 * Discord/Slack fields, the HTTP API) hands the engine, checked against the option table
 * (option-table.ts: names, ranges, defaults). README.md, "Options", lists them for users.
 *
 * Options are never clamped: out-of-range values raise an {@link OptionError} that names the
 * option and its range.
 */
import { OptionError } from './errors.ts';
import {
  MAX_PROMPT_CHARS,
  MAX_SMOOTH_FPS,
  MIN_FADE_FRAMES,
  MOTION_PRESETS,
  type OptionModel,
  type OptionSpec,
  optionDefaults,
  optionSpecs,
  SMOOTH_FACTORS,
} from './option-table.ts';

export type SizeMode = 'auto' | 'landscape' | 'portrait' | 'square';
export type VideoFormat = 'mp4' | 'gif';
export type LoopMode = 'off' | 'boomerang' | 'fade';
export type SmoothMode = 'off' | '2x' | '3x' | '4x';

/** What a user may set; every field optional, defaults come from the model and this table. */
export interface AnimateOptionsInput {
  readonly prompt?: string;
  readonly motion?: number | string;
  readonly fps?: number | string;
  readonly frames?: number | string;
  readonly steps?: number | string;
  readonly seed?: number | string;
  readonly noise?: number | string;
  readonly guidance?: string | readonly [number, number];
  readonly size?: string;
  readonly format?: string;
  readonly loop?: string;
  readonly smooth?: string;
  readonly steer?: number | string;
}

/** Fully resolved options: what the pipeline runs with. */
export interface AnimateOptions {
  readonly prompt: string;
  /** motion_bucket_id, 1–255. */
  readonly motion: number;
  /** Conditioning fps (the UNet sees fps − 1) and the playback rate. */
  readonly fps: number;
  readonly frames: number;
  readonly steps: number;
  readonly seed: number;
  /** noise_aug_strength, 0–1. */
  readonly noise: number;
  readonly guidance: readonly [min: number, max: number];
  readonly size: SizeMode;
  readonly format: VideoFormat;
  /** How the clip wraps: as made, forward then back, or with its end cross-faded into its start. */
  readonly loop: LoopMode;
  /** Motion-interpolated playback at fps × the factor (ffmpeg minterpolate). */
  readonly smooth: SmoothMode;
  /** Experimental prompt steer in CLIP space, 0 (off) – 1 (steer.ts). */
  readonly steer: number;
}

export type OptionName = keyof AnimateOptions;

export * from './option-table.ts';

/** The refusal of `steer` above 0 on a model folder without the CLIP text encoder. */
export function steerNeedsTextEncoder(): OptionError {
  return new OptionError(
    'steer',
    specOf('steer').range,
    'steer needs a CLIP text encoder, and this model has none: export one with ' +
      '`models/export/export_svd.py --text-encoder DIR` (the text tower of ' +
      'laion/CLIP-ViT-H-14-laion2B-s32B-b79K), or leave steer at 0',
  );
}

function parseSteer(raw: number | string, prompt: string, model: OptionModel): number {
  const steer = parseNumber('steer', raw);
  if (steer > 0 && model.steerable === false) throw steerNeedsTextEncoder();
  if (steer > 0 && prompt === '')
    throw new OptionError(
      'steer',
      specOf('steer').range,
      'steer turns the video toward the prompt, so it needs a prompt: add one, or leave steer at 0',
    );
  return steer;
}

function specOf(name: OptionName, model?: OptionModel): OptionSpec {
  const spec = optionSpecs(model).find((s) => s.name === name);
  if (!spec) throw new Error(`unknown option ${name}`);
  return spec;
}

function parseNumber(name: OptionName, raw: number | string, model?: OptionModel): number {
  const spec = specOf(name, model);
  const text = typeof raw === 'number' ? String(raw) : raw.trim();
  const value =
    typeof raw === 'number'
      ? raw
      : /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)
        ? Number(text)
        : Number.NaN;
  const bad = () =>
    new OptionError(
      name,
      spec.range,
      `${name} must be ${spec.integer ? 'a whole number ' : ''}in ${spec.range} (got "${text}")`,
    );
  if (!Number.isFinite(value)) throw bad();
  if (spec.integer && !Number.isInteger(value)) throw bad();
  if (spec.min !== undefined && value < spec.min) throw bad();
  if (spec.max !== undefined && value > spec.max) throw bad();
  return value;
}

function parseMotion(raw: number | string): number {
  if (typeof raw === 'string' && raw.trim().toLowerCase() in MOTION_PRESETS)
    return MOTION_PRESETS[raw.trim().toLowerCase()]!;
  return parseNumber('motion', raw);
}

/** Parses `1-3` (or a pair) into a guidance ramp; rejects anything outside 0–10 or min > max. */
export function parseGuidance(raw: string | readonly [number, number]): readonly [number, number] {
  const spec = specOf('guidance');
  const text = typeof raw === 'string' ? raw.trim() : `${raw[0]}-${raw[1]}`;
  const m = /^(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)$/.exec(text);
  const bad = () =>
    new OptionError('guidance', spec.range, `guidance must be min-max, each 0–10, min ≤ max (got "${text}")`);
  if (!m) throw bad();
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  if (!(lo >= 0 && hi <= 10 && lo <= hi)) throw bad();
  return [lo, hi];
}

function parseChoice<T extends string>(name: OptionName, raw: string): T {
  const spec = specOf(name);
  const value = raw.trim().toLowerCase();
  if (!spec.choices?.includes(value))
    throw new OptionError(name, spec.range, `${name} must be one of ${spec.range} (got "${raw}")`);
  return value as T;
}

/** A fresh uniformly random uint32 seed. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

/**
 * Validates user input against the table and the model, and fills every default.
 * Throws {@link OptionError} on the first bad option; nothing is clamped.
 */
export function resolveOptions(input: AnimateOptionsInput, model: OptionModel): AnimateOptions {
  const prompt = (input.prompt ?? '').trim();
  if (prompt.length > MAX_PROMPT_CHARS) {
    throw new OptionError(
      'prompt',
      specOf('prompt').range,
      `prompt must be at most ${MAX_PROMPT_CHARS} characters (got ${prompt.length})`,
    );
  }
  const d = optionDefaults(model);
  const resolved: AnimateOptions = {
    prompt,
    motion: input.motion === undefined ? d.motion : parseMotion(input.motion),
    fps: input.fps === undefined ? d.fps : parseNumber('fps', input.fps),
    frames: input.frames === undefined ? d.frames : parseNumber('frames', input.frames, model),
    steps: input.steps === undefined ? d.steps : parseNumber('steps', input.steps, model),
    seed: input.seed === undefined ? randomSeed() : parseNumber('seed', input.seed),
    noise: input.noise === undefined ? d.noise : parseNumber('noise', input.noise),
    guidance: input.guidance === undefined ? d.guidance : parseGuidance(input.guidance),
    size: input.size === undefined ? d.size : parseChoice<SizeMode>('size', input.size),
    format: input.format === undefined ? d.format : parseChoice<VideoFormat>('format', input.format),
    loop: input.loop === undefined ? d.loop : parseChoice<LoopMode>('loop', input.loop),
    smooth: input.smooth === undefined ? d.smooth : parseChoice<SmoothMode>('smooth', input.smooth),
    steer: input.steer === undefined ? d.steer : parseSteer(input.steer, prompt, model),
  };
  checkPlayback(resolved);
  return resolved;
}

/** The limits `loop` and `smooth` put on the other options, refused by name. */
function checkPlayback(o: AnimateOptions): void {
  if (o.loop === 'fade' && o.frames < MIN_FADE_FRAMES) {
    throw new OptionError(
      'loop',
      specOf('loop').range,
      `loop fade needs at least ${MIN_FADE_FRAMES} frames (got --frames ${o.frames}); use --loop boomerang or more frames`,
    );
  }
  const factor = SMOOTH_FACTORS[o.smooth];
  const limit = MAX_SMOOTH_FPS[o.format];
  if (o.fps * factor > limit) {
    const best = Math.max(...Object.values(SMOOTH_FACTORS).filter((f) => o.fps * f <= limit));
    throw new OptionError(
      'smooth',
      specOf('smooth').range,
      `smooth ${o.smooth} at --fps ${o.fps} would play at ${o.fps * factor} fps; ${o.format.toUpperCase()} plays at most ${limit} fps` +
        (best > 1 ? `: use --smooth ${best}x or a lower --fps` : ': use a lower --fps'),
    );
  }
}

/** Writes options back in the grammar users type, e.g. `--motion 127 --fps 7 … --seed 42`. */
export function formatOptions(o: AnimateOptions): string {
  return [
    `--motion ${o.motion}`,
    `--fps ${o.fps}`,
    `--frames ${o.frames}`,
    `--steps ${o.steps}`,
    `--seed ${o.seed}`,
    `--noise ${o.noise}`,
    `--guidance ${o.guidance[0]}-${o.guidance[1]}`,
    `--size ${o.size}`,
    `--format ${o.format}`,
    `--loop ${o.loop}`,
    `--smooth ${o.smooth}`,
    ...(o.steer > 0 ? [`--steer ${o.steer}`] : []),
  ].join(' ');
}
