/**
 * SvdEngine: owns a model's four ONNX sessions (created at load on the chosen execution provider; on the
 * CPU the three a job runs once are unloaded after their stage and loaded again after it, memory-plan.ts)
 * and runs whole jobs: preprocess → encode → denoise → decode → encode video.
 */
import { DeviceError, EngineError } from './errors.ts';
import { defaultBudgetBytes, type MemoryPlan, planMemory } from './memory-plan.ts';
import { BUNDLED_MODEL_DIR, loadModelInfo, type ModelInfo, type ModelPart } from './model-info.ts';
import { ModelSession } from './onnx-session.ts';
import { type AnimateOptions, type AnimateOptionsInput, resolveOptions, SMOOTH_FACTORS } from './options.ts';
import { type InjectedNoise, runPipeline, type StageTimings, type SvdSessions } from './pipeline.ts';
import { playbackOf } from './playback.ts';
import { type ImageLimits, inspectImage, loadImage } from './preprocess.ts';
import { type PreviewImage, PreviewMaker } from './preview.ts';
import type { ProgressCallback } from './progress.ts';
import {
  CUDA_INSTALL_HINT,
  cudaUnavailableReason,
  type Device,
  loadOrt,
  type OrtModule,
  type Provider,
  parseDevice,
  providerCandidates,
  type SessionTuning,
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

/**
 * Everything the engine is set with. The engine reads no environment variable for these: the app's
 * config (src/config.ts, src/scale/worker-config.ts) reads the `SVD_*` variables named below and
 * passes them here.
 */
export interface EngineLoadOptions {
  /** Model folder (`SVD_MODEL_DIR`). @default the bundled tiny model */
  readonly modelDir?: string;
  /** `auto`, `cuda` or `cpu` (`SVD_DEVICE`). @default 'auto' */
  readonly device?: Device | string;
  /** The CUDA device the sessions run on (the worker's `WORKER_GPUS`, one engine each). @default 0 */
  readonly cudaDeviceId?: number;
  /** Frames per VAE decode call (`SVD_DECODE_CHUNK`). @default as many as the memory budget holds */
  readonly decodeChunkSize?: number;
  /** The memory a job may use, in bytes (`SVD_MEMORY_BUDGET_GB`). @default the GPU's on CUDA, else the machine's */
  readonly memoryBudgetBytes?: number;
  /**
   * onnxruntime's CPU memory arena (`SVD_CPU_ARENA`): on or off for every session, or per model part
   * (parts left out are off). @default {@link DEFAULT_CPU_ARENA} (runtime.ts has the measurements)
   */
  readonly cpuArena?: boolean | CpuArenaParts;
  /** Intra-op threads (`SVD_THREADS`). @default onnxruntime's, one per physical core */
  readonly threads?: number;
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
  /**
   * Receives a live preview (animated WebP from the denoised latents, no VAE) after at most every
   * `previewEvery`-th step, within `previewBudget` (default 0.05) of the run time, and after the last
   * step; never called when the model has no `preview.latent_rgb`.
   */
  readonly onPreview?: (preview: PreviewImage) => void;
  readonly previewEvery?: number;
  readonly previewBudget?: number;
  /**
   * No job follows this one (the CLI): the sessions the plan unloads after their stage are not loaded
   * again, so the process can end at once.
   */
  readonly lastJob?: boolean;
}

export interface AnimateTimings extends StageTimings {
  preprocess_ms: number;
  video_ms: number;
  total_ms: number;
  /** Per preview: time in the denoising loop (x0 → RGB) and the WebP encode (in sharp's threads). */
  preview_map_ms: number[];
  preview_encode_ms: number[];
}

export interface AnimateResult {
  readonly path: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  /** Frames in the video, after `loop` and `smooth` (see playback.ts). */
  readonly frames: number;
  /** The video's playback rate (fps × the smooth factor). */
  readonly fps: number;
  /** Frames the model made. */
  readonly sourceFrames: number;
  readonly format: 'mp4' | 'gif';
  readonly seed: number;
  readonly timings: AnimateTimings;
  /** The decode chunk and guidance batching this job ran with. */
  readonly plan: MemoryPlan;
}

/** The parts from the largest weights to the smallest (SVD-XT fp32: 6.1, 2.5, 0.25, 0.14 GB). */
export const LOAD_ORDER: readonly ModelPart[] = ['unet', 'image_encoder', 'vae_decoder', 'vae_encoder'];

/** Which sessions get onnxruntime's CPU memory arena: `true` for all, or the parts named. */
export type CpuArenaParts = Readonly<Partial<Record<ModelPart, boolean>>>;

/**
 * The default: the arena for every part (the decoder without the memory pattern, runtime.ts). Measured
 * on SVD-XT at 1024×576: without the arena the decoder is 3× slower for 1.1 GB less (bench/results/).
 */
export const DEFAULT_CPU_ARENA: boolean | CpuArenaParts = true;

/** Whether `part`'s session gets the CPU arena under a setting (undefined: the default). */
export function arenaFor(setting: boolean | CpuArenaParts | undefined, part: ModelPart): boolean {
  const s = setting ?? DEFAULT_CPU_ARENA;
  return typeof s === 'boolean' ? s : s[part] === true;
}

/**
 * onnxruntime's memory pattern (one block planned per input shape, used from a session's second run
 * on) is off on the CPU. There the arena keeps the first run's buffers and then adds the planned block
 * beside them: measured on SVD-XT at 1024×576, 2 frames, the UNet held 0.9 GiB more from the second
 * job on, and the VAE decoder 1.9 GB more (runtime.ts); CLIP and the VAE encoder are loaded afresh for
 * each job, so they never reach a second run. On CUDA it stays on for all but the decoder (not measured
 * there).
 */
export function memPatternFor(part: ModelPart, provider: Provider): boolean {
  return provider !== 'cpu' && part !== 'vae_decoder';
}

const silent: EngineLogger = { info() {}, warn() {} };
// The UNet downsamples the 1/8 latents three times, so 64 pixels is the smallest side it takes.
const WARMUP_SIZE = 64;
const round1 = (x: number) => Math.round(x * 10) / 10;

export class SvdEngine {
  readonly model: ModelInfo;
  readonly provider: Provider;
  readonly decodeChunkSize: number | undefined;
  readonly memoryBudgetBytes: number;
  #sessions: SvdSessions;

  private constructor(
    model: ModelInfo,
    provider: Provider,
    sessions: SvdSessions,
    decodeChunkSize: number | undefined,
    memoryBudgetBytes: number,
  ) {
    this.model = model;
    this.provider = provider;
    this.#sessions = sessions;
    this.decodeChunkSize = decodeChunkSize;
    this.memoryBudgetBytes = memoryBudgetBytes;
  }

  /** Reads model.json and creates the four sessions once, trying CUDA first when the device is auto. */
  static async load(options: EngineLoadOptions = {}): Promise<SvdEngine> {
    const log = options.logger ?? silent;
    const model = loadModelInfo(options.modelDir || BUNDLED_MODEL_DIR);
    const device = parseDevice(options.device);
    const ort = await loadOrt();
    checkLoadNumbers(options);
    const chunk = options.decodeChunkSize;
    const budget = options.memoryBudgetBytes;
    const cudaDeviceId = options.cudaDeviceId ?? 0;
    const tuning = (part: ModelPart, provider: Provider) => ({
      cpuArena: arenaFor(options.cpuArena, part),
      memPattern: memPatternFor(part, provider),
      threads: options.threads,
      cudaDeviceId,
    });
    let lastError: unknown;
    for (const provider of providerCandidates(device)) {
      try {
        const missing = provider === 'cuda' ? cudaUnavailableReason() : undefined;
        if (missing) throw new DeviceError(missing);
        const sessions = await createSessions(ort, model, provider, tuning, cudaDeviceId);
        const budgetBytes = budget ?? defaultBudgetBytes(provider, cudaDeviceId);
        log.info(
          { provider, device, model: model.name, memory_budget_gb: round1(budgetBytes / 2 ** 30) },
          `engine: running on ${provider}`,
        );
        warnAboutModel(model, log);
        return new SvdEngine(model, provider, sessions, chunk, budgetBytes);
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

  /**
   * One step through every session at the smallest shape the model accepts (64×64, 2 frames), so
   * kernels and weights are initialised before the first job at a cost of seconds, not of a job.
   * Every axis but CLIP's is dynamic, so the first real job still plans its own shapes once.
   */
  async warmup(): Promise<void> {
    const width = WARMUP_SIZE;
    const height = WARMUP_SIZE;
    const rgb = new Uint8Array(width * height * 3).fill(128);
    // With a text encoder, a steered run, so that its session is warm too.
    const steer = this.model.steerable ? { prompt: 'warm up', steer: 0.5 } : {};
    const options = this.resolveOptions({ frames: 2, steps: 1, seed: 0, ...steer });
    const plan = this.plan(options, width, height);
    await runPipeline(this.model, this.#sessions, {
      rgb,
      width,
      height,
      options,
      decodeChunkSize: plan.decodeChunk,
      sequentialGuidance: plan.sequentialGuidance,
    });
  }

  /** The decode chunk and guidance batching for a job of this size under the memory budget. */
  plan(options: AnimateOptions, width: number, height: number): MemoryPlan {
    return planMemory({
      provider: this.provider,
      budgetBytes: this.memoryBudgetBytes,
      weightBytes: this.model.weightBytes,
      frames: options.frames,
      width,
      height,
      guided: options.guidance[1] > 1,
      decodeChunkOverride: this.decodeChunkSize,
    });
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
          loop: options.loop,
          sourceFrames: options.frames,
          smooth: SMOOTH_FACTORS[options.smooth] ?? 1,
          outPath: ctx.outPath,
          signal: ctx.signal,
        });
    let videoWrite_ms = 0;
    const plan = this.plan(options, size.width, size.height);
    const previews =
      ctx.onPreview && this.model.previewMap
        ? new PreviewMaker(
            this.model.previewMap,
            { frames: options.frames, latentH: size.height / 8, latentW: size.width / 8, fps: options.fps },
            ctx.onPreview,
            { every: ctx.previewEvery, budget: ctx.previewBudget },
          )
        : undefined;
    try {
      const result = await runPipeline(this.model, this.#sessions, {
        rgb: size.rgb,
        width: size.width,
        height: size.height,
        options,
        decodeChunkSize: plan.decodeChunk,
        sequentialGuidance: plan.sequentialGuidance,
        onceUsed: plan.unloadOnceUsed ? (ctx.lastJob ? 'unload-only' : 'unload') : 'keep',
        noise: ctx.noise,
        signal: ctx.signal,
        onProgress: ctx.onProgress,
        onDenoised: previews?.onDenoised,
        onFrames: async (frames, count) => {
          const t = performance.now();
          await encoder?.write(toUint8(frames), count);
          videoWrite_ms += performance.now() - t;
        },
      });
      ctx.onProgress?.({ stage: 'video' });
      const t = performance.now();
      const video = encoder ? await encoder.finish() : { path: ctx.outPath, bytes: 0 };
      // Only the encoder's own time: the last preview's encode is counted in preview_encode_ms.
      const video_ms = videoWrite_ms + (performance.now() - t);
      await previews?.flush();
      const playback = playbackOf(options);
      return {
        path: video.path,
        bytes: video.bytes,
        width: size.width,
        height: size.height,
        frames: playback.frames,
        fps: playback.fps,
        sourceFrames: playback.sourceFrames,
        format: options.format,
        seed: options.seed,
        timings: {
          ...result.timings,
          preprocess_ms,
          video_ms,
          total_ms: performance.now() - started,
          preview_map_ms: previews?.mapMs ?? [],
          preview_encode_ms: previews?.encodeMs ?? [],
        },
        plan,
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

/** Refuses a decode chunk, memory budget or CUDA device id that is not a number the engine can use. */
function checkLoadNumbers(o: EngineLoadOptions): void {
  const chunk = o.decodeChunkSize;
  if (chunk !== undefined && !(Number.isInteger(chunk) && chunk >= 1)) {
    throw new EngineError('bad_config', `SVD_DECODE_CHUNK must be a whole number ≥ 1 (got ${chunk})`);
  }
  const budget = o.memoryBudgetBytes;
  if (budget !== undefined && !(budget > 0)) {
    throw new EngineError('bad_config', `SVD_MEMORY_BUDGET_GB must be above 0 (got ${budget} bytes)`);
  }
  const id = o.cudaDeviceId;
  if (id !== undefined && !(Number.isInteger(id) && id >= 0)) {
    throw new EngineError('bad_config', `the CUDA device id must be a whole number ≥ 0 (got ${id})`);
  }
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0]!;
}

/**
 * Creates the sessions one at a time, the largest first: while a session loads, onnxruntime holds
 * its weights twice (as read, and as pre-packed for its kernels), so loading all four at once
 * stacks those transients (measured: 13.9 GB peak at load for 8.8 GB of SVD-XT weights).
 */
async function createSessions(
  ort: OrtModule,
  model: ModelInfo,
  provider: Provider,
  tuning: (part: ModelPart, provider: Provider) => SessionTuning,
  cudaDeviceId: number,
): Promise<SvdSessions> {
  const byPart = {} as Record<ModelPart, ModelSession>;
  for (const part of LOAD_ORDER) {
    byPart[part] = await ModelSession.create(
      ort,
      part,
      model.files[part],
      sessionOptions(provider, tuning(part, provider)),
    );
  }
  const textEncoder = model.textEncoder
    ? await ClipTextEncoder.create(ort, model.textEncoder, sessionOptions(provider, { cudaDeviceId }))
    : undefined;
  return {
    imageEncoder: byPart.image_encoder,
    vaeEncoder: byPart.vae_encoder,
    unet: byPart.unet,
    vaeDecoder: byPart.vae_decoder,
    textEncoder,
  };
}

/** What a user should know about the model folder at start: unfused attention, random weights. */
function warnAboutModel(model: ModelInfo, log: EngineLogger): void {
  if (model.attentionFused === false || (model.attentionFused === undefined && !model.randomWeights)) {
    log.warn(
      { model: model.name },
      `engine: attention in ${model.dir} is not fused, which costs memory and time: ` +
        `run \`python3 models/export/fuse_folder.py ${model.dir}\` once (README, "Real models")`,
    );
  }
  if (model.randomWeights) {
    log.warn(
      { model: model.name },
      `engine: ${model.dir === BUNDLED_MODEL_DIR ? 'the bundled tiny model' : model.dir} has random weights, so its videos look like noise`,
    );
  }
}
