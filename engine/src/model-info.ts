/**
 * Reads and checks a model folder's `model.json`: the four ONNX files, the native size,
 * default frames, fps and motion, dtypes, VAE scaling factor and licence note.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelError } from './errors.ts';
import { type LatentRgbMap, parseLatentRgbMap } from './preview.ts';

export type ModelPart = 'image_encoder' | 'vae_encoder' | 'unet' | 'vae_decoder';
export const MODEL_PARTS: readonly ModelPart[] = ['image_encoder', 'vae_encoder', 'unet', 'vae_decoder'];

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
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  readonly dtypes: Readonly<Record<ModelPart, 'float32' | 'float16'>>;
  readonly files: Readonly<Record<ModelPart, string>>;
  /** Bytes of the four ONNX files and their external data: what the loaded weights take in memory. */
  readonly weightBytes: number;
  /** model.json's `attention.fused`: undefined for folders written before it was recorded. */
  readonly attentionFused: boolean | undefined;
  readonly license: string;
  /** The fitted latent→RGB map for live previews (`preview.latent_rgb`); absent: no previews. */
  readonly previewMap?: LatentRgbMap;
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
  scheduler?: { sigma_min?: number; sigma_max?: number };
  dtypes?: Partial<Record<ModelPart, string>>;
  files?: Partial<Record<ModelPart, string>>;
  attention?: { fused?: unknown };
  license?: unknown;
  preview?: { latent_rgb?: unknown };
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
  const width = need<number>(raw.width, 'width', file, (v) => posInt(v) && v % 8 === 0);
  const height = need<number>(raw.height, 'height', file, (v) => posInt(v) && v % 8 === 0);
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
    sigmaMin: raw.scheduler?.sigma_min ?? 0.002,
    sigmaMax: raw.scheduler?.sigma_max ?? 700,
    dtypes: Object.freeze(dtypes),
    files: Object.freeze(files),
    weightBytes: MODEL_PARTS.reduce((sum, part) => sum + fileBytes(files[part]), 0),
    attentionFused: typeof raw.attention?.fused === 'boolean' ? raw.attention.fused : undefined,
    license: typeof raw.license === 'string' ? raw.license : '',
    ...(previewMap ? { previewMap } : {}),
  });
}

/** A model file's size with its external data (`<file>.data`, written beside it for parts over 2 GiB). */
function fileBytes(file: string): number {
  const data = `${file}.data`;
  return statSync(file).size + (existsSync(data) ? statSync(data).size : 0);
}
