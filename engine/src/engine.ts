/**
 * SvdEngine: owns a model's four ONNX sessions (created once, on the chosen execution provider)
 * and runs whole jobs: preprocess → encode → denoise → decode → encode video.
 */
import { DeviceError, EngineError } from './errors.ts';
import {
  BUNDLED_MODEL_DIR,
  loadModelInfo,
  MODEL_PARTS,
  type ModelInfo,
  type ModelPart,
} from './model-info.ts';
import { ModelSession } from './onnx-session.ts';
import { type AnimateOptions, type AnimateOptionsInput, resolveOptions } from './options.ts';
import { type InjectedNoise, runPipeline, type StageTimings, type SvdSessions } from './pipeline.ts';
import { type ImageLimits, inspectImage, loadImage } from './preprocess.ts';
import type { ProgressCallback } from './progress.ts';
import {
  CUDA_INSTALL_HINT,
  cudaUnavailableReason,
  type Device,
  loadOrt,
  type Provider,
  parseDevice,
  providerCandidates,
  sessionOptions,
} from './runtime.ts';
import { chooseSize } from './sizes.ts';
import { ClipTextEncoder } from './text-encoder.ts';
import { openVideoEncoder } from './video.ts';

/** The subset of a pino logger the engine uses. */
export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface EngineLoadOptions {
  /** Model folder; default `SVD_MODEL_DIR`, else the bundled tiny model. */
  readonly modelDir?: string;
  /** Default `SVD_DEVICE`, else auto. */
  readonly device?: Device | string;
  /** Frames per VAE decode call. Default `SVD_DECODE_CHUNK`, else all frames at once. */
  readonly decodeChunkSize?: number;
  readonly logger?: EngineLogger;
}

export interface AnimateContext {
  readonly outPath: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
  readonly limits?: ImageLimits;
  readonly noise?: InjectedNoise;
  /** Skip the video encode (benchmarks on machines without ffmpeg); no file is written. */
  readonly skipVideo?: boolean;
}

export interface AnimateTimings extends StageTimings {
  preprocess_ms: number;
  video_ms: number;
  total_ms: number;
}

export interface AnimateResult {
  readonly path: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly frames: number;
  readonly fps: number;
  readonly format: 'mp4' | 'gif';
  readonly seed: number;
  readonly timings: AnimateTimings;
}

const silent: EngineLogger = { info() {}, warn() {} };

export class SvdEngine {
  readonly model: ModelInfo;
  readonly provider: Provider;
  readonly decodeChunkSize: number | undefined;
  #sessions: SvdSessions;

  private constructor(
    model: ModelInfo,
    provider: Provider,
    sessions: SvdSessions,
    decodeChunkSize: number | undefined,
  ) {
    this.model = model;
    this.provider = provider;
    this.#sessions = sessions;
    this.decodeChunkSize = decodeChunkSize;
  }

  /** Reads model.json and creates the four sessions once, trying CUDA first when the device is auto. */
  static async load(options: EngineLoadOptions = {}): Promise<SvdEngine> {
    const log = options.logger ?? silent;
    const model = loadModelInfo(options.modelDir || process.env.SVD_MODEL_DIR || BUNDLED_MODEL_DIR);
    const device = parseDevice(options.device ?? process.env.SVD_DEVICE);
    const ort = await loadOrt();
    const chunk =
      options.decodeChunkSize ??
      (process.env.SVD_DECODE_CHUNK ? Number(process.env.SVD_DECODE_CHUNK) : undefined);
    if (chunk !== undefined && !(Number.isInteger(chunk) && chunk >= 1)) {
      throw new EngineError('bad_config', `SVD_DECODE_CHUNK must be a whole number ≥ 1 (got ${chunk})`);
    }
    let lastError: unknown;
    for (const provider of providerCandidates(device)) {
      try {
        const missing = provider === 'cuda' ? cudaUnavailableReason() : undefined;
        if (missing) throw new DeviceError(missing);
        const created = await Promise.all(
          MODEL_PARTS.map((part) =>
            ModelSession.create(ort, part, model.files[part], sessionOptions(provider)),
          ),
        );
        const byPart = Object.fromEntries(MODEL_PARTS.map((p, i) => [p, created[i]!])) as Record<
          ModelPart,
          ModelSession
        >;
        const textEncoder = model.textEncoder
          ? await ClipTextEncoder.create(ort, model.textEncoder, sessionOptions(provider))
          : undefined;
        log.info({ provider, device, model: model.name }, `engine: running on ${provider}`);
        if (model.randomWeights) {
          log.warn(
            { model: model.name },
            'engine: the bundled model has random weights, so its videos look like noise',
          );
        }
        return new SvdEngine(
          model,
          provider,
          {
            imageEncoder: byPart.image_encoder,
            vaeEncoder: byPart.vae_encoder,
            unet: byPart.unet,
            vaeDecoder: byPart.vae_decoder,
            textEncoder,
          },
          chunk,
        );
      } catch (err) {
        lastError = err;
        if (provider === 'cuda' && device === 'auto') {
          log.warn(
            { reason: firstLine(err) },
            `engine: CUDA is not usable (${firstLine(err)}); falling back to the CPU`,
          );
          continue;
        }
        if (provider === 'cuda') {
          throw new DeviceError(
            `SVD_DEVICE=cuda, but the CUDA provider cannot load (${firstLine(err)}): ${CUDA_INSTALL_HINT}`,
            {
              cause: err,
            },
          );
        }
        throw new EngineError('model_error', `cannot load the model in ${model.dir}: ${firstLine(err)}`, {
          cause: err,
        });
      }
    }
    throw lastError;
  }

  /** Validates user options against the option table and this model; fills defaults. */
  resolveOptions(input: AnimateOptionsInput): AnimateOptions {
    return resolveOptions(input, this.model);
  }

  /** One tiny step through every session, so the first job does not pay for lazy initialisation. */
  async warmup(): Promise<void> {
    const { width, height } = this.model;
    const rgb = new Uint8Array(width * height * 3).fill(128);
    // With a text encoder, a steered run, so that its session is warm too.
    const steer = this.model.steerable ? { prompt: 'warm up', steer: 0.5 } : {};
    const options = this.resolveOptions({ frames: 2, steps: 1, seed: 0, ...steer });
    await runPipeline(this.model, this.#sessions, { rgb, width, height, options, decodeChunkSize: 2 });
  }

  /** A whole job: picture in, video file out. */
  async animate(image: Buffer, options: AnimateOptions, ctx: AnimateContext): Promise<AnimateResult> {
    const started = performance.now();
    const meta = await inspectImage(image, ctx.limits);
    const size = await loadImage(
      image,
      chooseSize(options.size, meta.width, meta.height, this.model),
      ctx.limits,
    );
    const preprocess_ms = performance.now() - started;
    const encoder = ctx.skipVideo
      ? undefined
      : openVideoEncoder({
          width: size.width,
          height: size.height,
          fps: options.fps,
          format: options.format,
          outPath: ctx.outPath,
          signal: ctx.signal,
        });
    let videoWrite_ms = 0;
    try {
      const result = await runPipeline(this.model, this.#sessions, {
        rgb: size.rgb,
        width: size.width,
        height: size.height,
        options,
        decodeChunkSize: this.decodeChunkSize,
        noise: ctx.noise,
        signal: ctx.signal,
        onProgress: ctx.onProgress,
        onFrames: async (frames, count) => {
          const t = performance.now();
          await encoder?.write(toUint8(frames), count);
          videoWrite_ms += performance.now() - t;
        },
      });
      ctx.onProgress?.({ stage: 'video' });
      const t = performance.now();
      const video = encoder ? await encoder.finish() : { path: ctx.outPath, bytes: 0 };
      const video_ms = videoWrite_ms + (performance.now() - t);
      return {
        path: video.path,
        bytes: video.bytes,
        width: size.width,
        height: size.height,
        frames: options.frames,
        fps: options.fps,
        format: options.format,
        seed: options.seed,
        timings: { ...result.timings, preprocess_ms, video_ms, total_ms: performance.now() - started },
      };
    } catch (err) {
      await encoder?.abort();
      throw err;
    }
  }

  /** The sessions, for the parity and benchmark tools that run the pipeline stage by stage. */
  get sessions(): SvdSessions {
    return this.#sessions;
  }

  async release(): Promise<void> {
    const s = this.#sessions;
    await Promise.all(
      [s.imageEncoder, s.vaeEncoder, s.unet, s.vaeDecoder, s.textEncoder].map((m) => m?.release()),
    );
  }
}

/** [0,1] floats → 8-bit, rounded as diffusers' numpy_to_pil does. */
export function toUint8(frames: Float32Array): Uint8Array {
  const out = new Uint8Array(frames.length);
  for (let k = 0; k < frames.length; k++) out[k] = Math.round(frames[k]! * 255);
  return out;
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0]!;
}
