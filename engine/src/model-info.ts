/**
 * Reads and checks a model folder's `model.json`: the four ONNX files, the native size,
 * default frames, fps, motion, steps and guidance, the scheduler, dtypes, VAE scaling factor and
 * licence note.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from './errors.ts';
import { MAX_STEPS } from './options.ts';
import { type LatentRgbMap, parseLatentRgbMap } from './preview.ts';
import { ANIMATELCM, EULER, maxSteps, SCHEDULER_DEFAULTS, type SchedulerConfig } from './scheduler.ts';

export type ModelPart = 'image_encoder' | 'vae_encoder' | 'unet' | 'vae_decoder';
export const MODEL_PARTS: readonly ModelPart[] = ['image_encoder', 'vae_encoder', 'unet', 'vae_decoder'];
/** The four parts, plus the optional CLIP text encoder of the experimental steer. */
export type SessionPart = ModelPart | 'text_encoder';

/** The optional CLIP text tower (`export_svd.py --text-encoder`) and its tokenizer files, as absolute paths. */
export interface TextEncoderInfo {
  readonly file: string;
  readonly tokenizer: string;
  readonly tokenizerConfig: string;
  /** Token ids per prompt, CLIP's 77: <start>, tokens, <end>, then 0s. */
  readonly contextLength: number;
}

export interface ModelInfo {
  readonly dir: string;
  readonly name: string;
  /** True for the bundled tiny model: its output is noise. */
  readonly randomWeights: boolean;
  /** Default (and maximum) number of frames. */
  readonly frames: number;
  /** Native size W×H the model was trained at. */
  readonly width: number;
  readonly height: number;
  /** fps and motion bucket the model was trained at: the defaults. */
  readonly fps: number;
  readonly motion: number;
  readonly vaeScalingFactor: number;
  /** The sampler and its settings (Euler for the stock checkpoints, AnimateLCM's for its UNet). */
  readonly scheduler: SchedulerConfig;
  /** Default denoising steps and guidance ramp: what the model was tuned for. */
  readonly steps: number;
  readonly guidance: readonly [min: number, max: number];
  /** The most steps this model's scheduler takes (the option range's top). */
  readonly maxSteps: number;
  readonly dtypes: Readonly<Record<ModelPart, 'float32' | 'float16'>>;
  readonly files: Readonly<Record<ModelPart, string>>;
  /** Bytes of the four ONNX files and their external data: what the loaded weights take in memory. */
  readonly weightBytes: number;
  /** model.json's `attention.fused`: undefined for folders written before it was recorded. */
  readonly attentionFused: boolean | undefined;
  readonly license: string;
  /** The fitted latent→RGB map for live previews (`preview.latent_rgb`); absent: no previews. */
  readonly previewMap?: LatentRgbMap;
  /** The CLIP text encoder the `steer` option needs; undefined when the folder has none. */
  readonly textEncoder: TextEncoderInfo | undefined;
  /** True when {@link textEncoder} is there: `steer` above 0 is accepted. */
  readonly steerable: boolean;
}

/** The bundled tiny model, `models/tiny` at the repository root. */
export const BUNDLED_MODEL_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../models/tiny',
);

function need<T>(value: T | undefined, field: string, file: string, check: (v: T) => boolean): T {
  if (value === undefined || !check(value))
    throw new ModelError(`${file}: field "${field}" is missing or invalid`);
  return value;
}

/** model.json as written by models/export (snake_case). Every field is checked before use. */
interface RawModelJson {
  name?: string;
  random_weights?: boolean;
  frames?: number;
  width?: number;
  height?: number;
  fps?: number;
  motion?: number;
  vae_scaling_factor?: number;
  scheduler?: RawScheduler;
  steps?: number;
  guidance?: unknown;
  dtypes?: Partial<Record<ModelPart, string>>;
  files?: Partial<Record<ModelPart, string>>;
  attention?: { fused?: unknown };
  license?: unknown;
  preview?: { latent_rgb?: unknown };
  text_encoder?: { file?: string; tokenizer?: string; tokenizer_config?: string; context_length?: number };
}

interface RawScheduler {
  name?: string;
  prediction_type?: string;
  num_train_timesteps?: number;
  sigma_min?: number;
  sigma_max?: number;
  sigma_data?: number;
  s_noise?: number;
  rho?: number;
  clip_denoised?: boolean;
}

/** model.json's `scheduler`; without a `name` it is SVD's Euler (older exports). */
function parseScheduler(raw: RawScheduler | undefined, file: string): SchedulerConfig {
  const name = raw?.name ?? EULER.name;
  const num = (field: keyof RawScheduler, fallback: number, ok: (v: number) => boolean) =>
    need<number>(
      (raw?.[field] as number | undefined) ?? fallback,
      `scheduler.${field}`,
      file,
      (v) => typeof v === 'number' && Number.isFinite(v) && ok(v),
    );
  const positive = (v: number) => v > 0;
  const base = ANIMATELCM; // also Euler's sigma range
  const sigmaMin = num('sigma_min', base.sigmaMin, positive);
  const sigmaMax = num('sigma_max', base.sigmaMax, (v) => v > sigmaMin);
  if (name === EULER.name) {
    if ((raw?.prediction_type ?? 'v_prediction') !== 'v_prediction')
      throw new ModelError(`${file}: scheduler.prediction_type must be v_prediction (SVD's)`);
    return Object.freeze({ name, sigmaMin, sigmaMax });
  }
  if (name === ANIMATELCM.name) {
    return Object.freeze({
      name,
      numTrainTimesteps: num(
        'num_train_timesteps',
        base.numTrainTimesteps,
        (v) => Number.isInteger(v) && v >= 2,
      ),
      sigmaMin,
      sigmaMax,
      sigmaData: num('sigma_data', base.sigmaData, positive),
      sNoise: num('s_noise', base.sNoise, (v) => v >= 0),
      rho: num('rho', base.rho, positive),
      clipDenoised: need<boolean>(
        raw?.clip_denoised ?? base.clipDenoised,
        'scheduler.clip_denoised',
        file,
        (v) => typeof v === 'boolean',
      ),
    });
  }
  throw new ModelError(
    `${file}: scheduler.name "${name}" is not supported (use ${EULER.name} or ${ANIMATELCM.name})`,
  );
}

export function loadModelInfo(dir: string = BUNDLED_MODEL_DIR): ModelInfo {
  const file = path.join(dir, 'model.json');
  if (!existsSync(file))
    throw new ModelError(`no model.json in ${dir}: point SVD_MODEL_DIR at a folder made by models/export`);
  let raw: RawModelJson;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ModelError(`${file} is not valid JSON`, { cause: err });
  }
  const posInt = (v: number) => Number.isInteger(v) && v > 0;
  const files = {} as Record<ModelPart, string>;
  const dtypes = {} as Record<ModelPart, 'float32' | 'float16'>;
  for (const part of MODEL_PARTS) {
    files[part] = path.join(dir, raw.files?.[part] ?? `${part}.onnx`);
    if (!existsSync(files[part])) throw new ModelError(`model file missing: ${files[part]}`);
    const dtype = raw.dtypes?.[part] ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float16')
      throw new ModelError(`${file}: dtypes.${part} must be float32 or float16`);
    dtypes[part] = dtype;
  }
  const textEncoder = readTextEncoder(raw, dir, file);
  const width = need<number>(raw.width, 'width', file, (v) => posInt(v) && v % 8 === 0);
  const height = need<number>(raw.height, 'height', file, (v) => posInt(v) && v % 8 === 0);
  const scheduler = parseScheduler(raw.scheduler, file);
  const defaults = SCHEDULER_DEFAULTS[scheduler.name];
  const stepsMax = Math.min(MAX_STEPS, maxSteps(scheduler));
  const guidance = need<unknown>(raw.guidance ?? defaults.guidance, 'guidance', file, (v) => {
    if (!Array.isArray(v) || v.length !== 2) return false;
    const [lo, hi] = v as unknown[];
    return typeof lo === 'number' && typeof hi === 'number' && lo >= 0 && hi <= 10 && lo <= hi;
  }) as [number, number];
  const previewMap = parseLatentRgbMap(raw.preview?.latent_rgb);
  if (raw.preview?.latent_rgb !== undefined && !previewMap)
    throw new ModelError(`${file}: preview.latent_rgb must be {weights: 4×3 numbers, bias: 3 numbers}`);
  return Object.freeze({
    dir,
    name: need<string>(raw.name, 'name', file, (v) => typeof v === 'string'),
    randomWeights: raw.random_weights === true,
    frames: need<number>(raw.frames, 'frames', file, (v) => posInt(v) && v >= 2),
    width,
    height,
    fps: need<number>(raw.fps ?? 7, 'fps', file, (v) => posInt(v) && v <= 30),
    motion: need<number>(raw.motion ?? 127, 'motion', file, (v) => posInt(v) && v <= 255),
    vaeScalingFactor: need<number>(
      raw.vae_scaling_factor ?? 0.18215,
      'vae_scaling_factor',
      file,
      (v) => v > 0,
    ),
    scheduler,
    steps: need<number>(raw.steps ?? defaults.steps, 'steps', file, (v) => posInt(v) && v <= stepsMax),
    guidance: Object.freeze([guidance[0], guidance[1]] as const),
    maxSteps: stepsMax,
    dtypes: Object.freeze(dtypes),
    files: Object.freeze(files),
    weightBytes: MODEL_PARTS.reduce((sum, part) => sum + fileBytes(files[part]), 0),
    attentionFused: typeof raw.attention?.fused === 'boolean' ? raw.attention.fused : undefined,
    license: typeof raw.license === 'string' ? raw.license : '',
    ...(previewMap ? { previewMap } : {}),
    textEncoder,
    steerable: textEncoder !== undefined,
  });
}

function readTextEncoder(raw: RawModelJson, dir: string, file: string): TextEncoderInfo | undefined {
  const t = raw.text_encoder;
  if (t === undefined) return undefined;
  const files = {
    file: path.join(dir, t.file ?? 'text_encoder.onnx'),
    tokenizer: path.join(dir, t.tokenizer ?? 'tokenizer.json'),
    tokenizerConfig: path.join(dir, t.tokenizer_config ?? 'tokenizer_config.json'),
  };
  for (const f of Object.values(files)) if (!existsSync(f)) throw new ModelError(`model file missing: ${f}`);
  const contextLength = need<number>(
    t.context_length ?? 77,
    'text_encoder.context_length',
    file,
    (v) => Number.isInteger(v) && v >= 2,
  );
  return Object.freeze({ ...files, contextLength });
}

/** A model file's size with its external data (`<file>.data`, written beside it for parts over 2 GiB). */
function fileBytes(file: string): number {
  const data = `${file}.data`;
  return statSync(file).size + (existsSync(data) ? statSync(data).size : 0);
}
