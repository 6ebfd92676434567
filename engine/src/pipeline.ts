/**
 * Stable Video Diffusion image-to-video, step by step as diffusers' StableVideoDiffusionPipeline runs
 * it (steps numbered as in the shared SVD pipeline spec, svd-pipeline.md): encode the image twice (CLIP, VAE), denoise the latents with the UNet
 * and the model's scheduler (SVD's Euler, or AnimateLCM's consistency sampler, as AnimateLCM's own
 * pipeline runs it) under a per-frame guidance ramp, then decode the frames in temporal chunks.
 *
 * Input is an RGB picture already cropped to the output size (preprocess.ts). Output frames stream
 * out chunk by chunk, so the video encoder can work while the next chunk decodes.
 */
import { CLIP_SIZE, clipPixelValues } from './clip-resize.ts';
import { CanceledError } from './errors.ts';
import type { ModelInfo } from './model-info.ts';
import { type FloatTensor, ModelSession } from './onnx-session.ts';
import { type AnimateOptions, steerNeedsTextEncoder } from './options.ts';
import { vaePixels } from './preprocess.ts';
import type { ProgressCallback } from './progress.ts';
import { NormalRng } from './rng.ts';
import { inputScale, makeSchedule, type Schedule, schedulerStep, stepNeedsNoise } from './scheduler.ts';
import { steerEmbedding } from './steer.ts';
import type { ClipTextEncoder } from './text-encoder.ts';

export interface SvdSessions {
  readonly imageEncoder: ModelSession;
  readonly vaeEncoder: ModelSession;
  readonly unet: ModelSession;
  readonly vaeDecoder: ModelSession;
  /** The CLIP text tower of the experimental steer, when the model folder has one. */
  readonly textEncoder?: ClipTextEncoder;
}

/** The random draws. Tests inject recorded ones; otherwise they come from the seed, in this order. */
export interface InjectedNoise {
  /** [1,3,H,W]: added to the image (× noise strength) before the VAE encoder. Draw 1. */
  readonly noiseAug?: Float32Array;
  /** [1,F,4,h,w]: the initial latents before × init_noise_sigma. Draw 2. */
  readonly initialLatents?: Float32Array;
  /**
   * [N,1,F,4,h,w]: the consistency scheduler's noise, slice i at step i. Draw 3, one per step that
   * adds noise (every step but the last); slices of other steps are ignored. Euler takes none.
   */
  readonly stepNoise?: Float32Array;
}

export type OnceUsedSessions = 'keep' | 'unload' | 'unload-only';

export interface PipelineRun {
  /** RGB, HWC, 8-bit, already width × height. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly options: AnimateOptions;
  /** Frames per VAE decode call; default all frames at once. */
  readonly decodeChunkSize?: number;
  /**
   * Run the negative and positive guidance halves as two batch-1 UNet calls instead of one batch-2
   * call: the same result, about half the UNet's activation memory (memory-plan.ts decides).
   */
  readonly sequentialGuidance?: boolean;
  /**
   * What happens to the sessions a job uses once (CLIP, the VAE encoder, the VAE decoder), so that their
   * memory is not held through the UNet and the decode (memory-plan.ts decides): `keep` them loaded;
   * `unload` each after its stage and load all three again once the decode is done (weights only,
   * without what their runs left in the arena), so the next job finds them ready; `unload-only`, the
   * same without loading them again, for a caller that runs no further job (the CLI).
   * @default 'keep'
   */
  readonly onceUsed?: OnceUsedSessions;
  readonly noise?: InjectedNoise;
  /** Overrides the CLIP pixels (parity tests compare that stage on its own). */
  readonly clipPixels?: Float32Array;
  readonly signal?: AbortSignal;
  readonly onProgress?: ProgressCallback;
  /**
   * Receives the denoised estimate x0 [F,4,h,w] after each step (a buffer reused between steps:
   * read it before returning). For previews; not called when absent.
   */
  readonly onDenoised?: (x0: Float32Array, step: number, steps: number) => void;
  /** Receives each decoded chunk as floats in [0,1], HWC, `count` frames. */
  readonly onFrames?: (frames: Float32Array, count: number) => void | Promise<void>;
}

export interface StageTimings {
  /** CLIP: the image embedding, and the prompt's text embedding when steering. */
  clip_ms: number;
  vae_encode_ms: number;
  unet_step_ms: number[];
  vae_decode_ms: number;
}

export interface PipelineResult {
  readonly timings: StageTimings;
  /** Intermediate tensors, for parity checks. */
  readonly clipPixels: Float32Array;
  readonly imageEmbeds: Float32Array;
  /** The positive conditioning the UNet saw: `imageEmbeds` itself unless steered. */
  readonly conditioning: Float32Array;
  readonly imageLatents: Float32Array;
}

export async function runPipeline(
  model: ModelInfo,
  sessions: SvdSessions,
  run: PipelineRun,
): Promise<PipelineResult> {
  const { options: o, signal } = run;
  const timings: StageTimings = { clip_ms: 0, vae_encode_ms: 0, unet_step_ms: [], vae_decode_ms: 0 };
  const rng = new NormalRng(o.seed);
  const checkAbort = () => {
    if (signal?.aborted) throw new CanceledError();
  };
  checkAbort();
  const onceUsed = run.onceUsed ?? 'keep';
  try {
    return await denoiseAndDecode(model, sessions, run, timings, rng, checkAbort, onceUsed);
  } finally {
    if (onceUsed !== 'keep') await settleOnceUsed(sessions, onceUsed);
  }
}

/**
 * Unloads what a canceled or failed job left loaded, and (`unload`) loads the three once-used
 * sessions again in the background: a fresh decoder, without the arena the last decode grew.
 */
async function settleOnceUsed(sessions: SvdSessions, onceUsed: OnceUsedSessions): Promise<void> {
  const once = [sessions.imageEncoder, sessions.vaeEncoder, sessions.vaeDecoder];
  await Promise.all(once.map((s) => s.unload()));
  if (onceUsed === 'unload') for (const s of once) s.preload();
}

/** Steps 1–10 (runPipeline's body). */
async function denoiseAndDecode(
  model: ModelInfo,
  sessions: SvdSessions,
  run: PipelineRun,
  timings: StageTimings,
  rng: NormalRng,
  checkAbort: () => void,
  onceUsed: OnceUsedSessions,
): Promise<PipelineResult> {
  const { options: o, width, height } = run;
  const frames = o.frames;
  const latentFrame = 4 * (height / 8) * (width / 8);
  const unloadAfterStage = onceUsed !== 'keep';

  // 1. Image to size: done before this function (preprocess.ts covers and centre-crops to W×H), so
  //    both branches below see the same crop.

  // 2. CLIP branch, on the un-noised image: image_embeds [1,1,D].
  let t = performance.now();
  const clipPixels = run.clipPixels ?? clipPixelValues(run.rgb, width, height);
  const imageEmbeds = await encodeImage(sessions.imageEncoder, clipPixels);
  //    Experimental steer: turn the image embedding toward the prompt's CLIP text embedding (steer.ts).
  //    With steer 0 (the default) the image embedding goes on untouched.
  const conditioning = await steer(sessions.textEncoder, o, imageEmbeds);
  timings.clip_ms = performance.now() - t;
  if (unloadAfterStage) await sessions.imageEncoder.unload();
  checkAbort();

  // 3. Guidance inputs. Classifier-free guidance is on only when the top of the ramp exceeds 1.
  //    Negative embeddings are zeros; batch order [negative, positive].
  const [minGuidance, maxGuidance] = o.guidance;
  const guided = maxGuidance > 1;
  // Rows per UNet call: both halves at once, or one at a time.
  const rows = guided && !run.sequentialGuidance ? 2 : 1;
  const negativeEmbeds = new Float32Array(conditioning.length);
  //    NOTE: SVD was conditioned on fps − 1 (diffusers: `fps = fps - 1`).
  const addedTimeIds = new Float32Array(rows * 3);
  for (let b = 0; b < rows; b++) addedTimeIds.set([o.fps - 1, o.motion, o.noise], b * 3);

  // 4. VAE branch: the noise-augmented image (draw 1) → the latent mode, NOT scaled by the scaling
  //    factor. Negative image latents are zeros (fillUnetSample).
  t = performance.now();
  const noiseAug = run.noise?.noiseAug ?? rng.randn(3 * height * width);
  const imageLatents = await encodeVaeImage(sessions.vaeEncoder, run.rgb, width, height, noiseAug, o.noise);
  timings.vae_encode_ms = performance.now() - t;
  if (unloadAfterStage) await sessions.vaeEncoder.unload();
  checkAbort();

  // 5. Schedule: Karras sigmas, continuous t = 0.25 · ln σ (scheduler.ts).
  const schedule = makeSchedule(model.scheduler, o.steps);

  // 6. Initial latents [1,F,4,h,w] × init_noise_sigma (draw 2, after draw 1).
  const latents = run.noise?.initialLatents
    ? Float32Array.from(run.noise.initialLatents)
    : rng.randn(frames * latentFrame);
  for (let k = 0; k < latents.length; k++) latents[k] *= schedule.initNoiseSigma;
  //    Draw 3, AnimateLCM's only: the noise the consistency scheduler adds after step i.
  const stepNoise = (i: number): Float32Array => {
    const injected = run.noise?.stepNoise;
    if (!injected) return rng.randn(latents.length);
    if (injected.length < (i + 1) * latents.length)
      throw new RangeError(`injected stepNoise has no slice for step ${i}`);
    return injected.subarray(i * latents.length, (i + 1) * latents.length);
  };

  // 7. Per-frame guidance scale, linspace(min, max, F).
  const guidance = linspace(minGuidance, maxGuidance, frames);

  // 8. Denoising loop: the UNet's v (guided), then one scheduler step on the latents.
  const velocity = unetVelocity(sessions.unet, run, {
    latents,
    imageLatents,
    conditioning,
    negativeEmbeds,
    addedTimeIds,
    schedule,
    guidance,
    rows,
  });
  const denoised = run.onDenoised ? new Float32Array(latents.length) : undefined;
  for (let i = 0; i < o.steps; i++) {
    t = performance.now();
    const v = await velocity(i);
    schedulerStep(schedule, i, latents, v, stepNeedsNoise(schedule, i) ? stepNoise(i) : undefined, denoised);
    const stepMs = performance.now() - t;
    timings.unet_step_ms.push(stepMs);
    if (denoised) run.onDenoised!(denoised, i + 1, o.steps);
    run.onProgress?.({ stage: 'denoise', step: i + 1, steps: o.steps, stepMs });
    checkAbort();
  }

  // 9–10. Decode in temporal chunks, then to pixels.
  t = performance.now();
  for (let k = 0; k < latents.length; k++) latents[k] /= model.vaeScalingFactor;
  await decodeLatents(sessions.vaeDecoder, latents, run, checkAbort);
  timings.vae_decode_ms = performance.now() - t;
  return { timings, clipPixels, imageEmbeds, conditioning, imageLatents };
}

/** What step 8 feeds the UNet besides the step index. */
interface UnetInputs {
  readonly latents: Float32Array;
  readonly imageLatents: Float32Array;
  readonly conditioning: Float32Array;
  readonly negativeEmbeds: Float32Array;
  readonly addedTimeIds: Float32Array;
  readonly schedule: Schedule;
  readonly guidance: Float32Array;
  /** Rows per UNet call: 2 (both guidance halves), or 1 (guidance off, or the halves one after the other). */
  readonly rows: number;
}

/**
 * Step 8's UNet evaluation at step i: x_in = cat([x, x]) / sqrt(σ_i² + 1) (x alone when guidance is
 * off), concatenated with the image latents along channels, then v = v_neg + g_f · (v_pos − v_neg).
 */
function unetVelocity(
  unet: ModelSession,
  run: PipelineRun,
  u: UnetInputs,
): (step: number) => Promise<Float32Array> {
  const { frames } = run.options;
  const latentH = run.height / 8;
  const latentW = run.width / 8;
  const latentFrame = 4 * latentH * latentW;
  const guided = run.options.guidance[1] > 1;
  const batch = guided ? 2 : 1;
  const rows = u.rows;
  const sample = new Float32Array(rows * frames * 8 * latentH * latentW);
  const half = frames * latentFrame;
  const unetSample = unet.input(5, 'sample');
  const unetTimestep = unet.input(1, 'timestep');
  const unetEmbeds = unet.input(3, 'encoder_hidden_states');
  const unetTimeIds = unet.input(2, 'added_time_ids');
  return async (i) => {
    const scale = 1 / inputScale(u.schedule, i);
    // One call for `rows` rows from row `first`; the batch order is [negative, positive].
    const callRows = async (first: number): Promise<Float32Array> => {
      const positives = Array.from({ length: rows }, (_, r) => first + r === batch - 1);
      fillUnetSample(sample, u.latents, u.imageLatents, scale, positives, frames, latentFrame);
      const embeds =
        rows === 2
          ? concat(u.negativeEmbeds, u.conditioning)
          : positives[0]
            ? u.conditioning
            : u.negativeEmbeds;
      const out = await unet.run({
        [unetSample.name]: { data: sample, dims: [rows, frames, 8, latentH, latentW] },
        [unetTimestep.name]: { data: u.schedule.timesteps.subarray(i, i + 1), dims: [1] },
        [unetEmbeds.name]: { data: embeds, dims: [rows, 1, u.conditioning.length] },
        [unetTimeIds.name]: { data: u.addedTimeIds, dims: [rows, 3] },
      });
      return out.data;
    };
    if (!guided) return callRows(0);
    const v = new Float32Array(2 * half);
    for (let first = 0; first < batch; first += rows) v.set(await callRows(first), first * half);
    return applyGuidance(v, u.guidance, frames, latentFrame);
  };
}

/**
 * Steps 9–10: runs the VAE decoder on the latents [F,4,h,w] (already divided by the scaling factor) in
 * chunks of decode_chunk_size, the last maybe shorter (the temporal layers mix frames only inside a
 * chunk), and streams each chunk out as clamp(x/2 + 0.5, 0, 1) in HWC.
 */
async function decodeLatents(
  decoder: ModelSession,
  latents: Float32Array,
  run: PipelineRun,
  checkAbort: () => void,
): Promise<void> {
  const { width, height } = run;
  const frames = run.options.frames;
  const latentFrame = 4 * (height / 8) * (width / 8);
  const chunkSize = Math.max(1, Math.min(run.decodeChunkSize ?? frames, frames));
  const chunks = Math.ceil(frames / chunkSize);
  const decoderInput = decoder.inputs[0]!;
  for (let c = 0; c < chunks; c++) {
    const start = c * chunkSize;
    const count = Math.min(chunkSize, frames - start);
    const out = await decoder.run({
      [decoderInput.name]: {
        data: latents.subarray(start * latentFrame, (start + count) * latentFrame),
        dims: [count, 4, height / 8, width / 8],
      },
    });
    // 10. To pixels: clamp(x/2 + 0.5, 0, 1), CHW → HWC.
    const pixels = toHwcUnit(out, count, height, width);
    run.onProgress?.({ stage: 'decode', chunk: c + 1, chunks });
    await run.onFrames?.(pixels, count);
    checkAbort();
  }
}

/** e' = |e| · normalize((1 − s)·ê + s·t̂) for steer s > 0 and a prompt; otherwise e itself. */
async function steer(
  textEncoder: ClipTextEncoder | undefined,
  o: AnimateOptions,
  imageEmbeds: Float32Array,
): Promise<Float32Array> {
  if (!(o.steer > 0) || o.prompt === '') return imageEmbeds;
  if (!textEncoder) throw steerNeedsTextEncoder();
  return steerEmbedding(imageEmbeds, await textEncoder.embed(o.prompt), o.steer);
}

async function encodeImage(session: ModelSession, clipPixels: Float32Array): Promise<Float32Array> {
  const input = session.input(4);
  const size = ModelSession.staticDim(input, 2) ?? CLIP_SIZE;
  const out = await session.run({ [input.name]: { data: clipPixels, dims: [1, 3, size, size] } });
  return out.data;
}

async function encodeVaeImage(
  session: ModelSession,
  rgb: Uint8Array,
  width: number,
  height: number,
  noise: Float32Array,
  strength: number,
): Promise<Float32Array> {
  const pixels = vaePixels(rgb, width, height);
  // image + strength · noise, rounded to float32 at each op as PyTorch does.
  const s32 = Math.fround(strength);
  for (let k = 0; k < pixels.length; k++) pixels[k] = Math.fround(pixels[k]! + Math.fround(s32 * noise[k]!));
  const input = session.input(4);
  const out = await session.run({ [input.name]: { data: pixels, dims: [1, 3, height, width] } });
  return out.data;
}

/**
 * Builds the UNet's `sample` [B,F,8,h,w], one row per entry of `positives`: the scaled latents in
 * channels 0–3 and the image latents (repeated over frames, unscaled; zeros for a negative row) in 4–7.
 */
function fillUnetSample(
  sample: Float32Array,
  latents: Float32Array,
  imageLatents: Float32Array,
  scale: number,
  positives: readonly boolean[],
  frames: number,
  latentFrame: number,
): void {
  for (let b = 0; b < positives.length; b++) {
    const positive = positives[b];
    for (let f = 0; f < frames; f++) {
      const dst = (b * frames + f) * 2 * latentFrame;
      const src = f * latentFrame;
      for (let k = 0; k < latentFrame; k++) sample[dst + k] = latents[src + k]! * scale;
      if (positive) sample.set(imageLatents, dst + latentFrame);
      else sample.fill(0, dst + latentFrame, dst + 2 * latentFrame);
    }
  }
}

/** v = v_neg + g_f · (v_pos − v_neg), per frame f. */
function applyGuidance(
  v: Float32Array,
  guidance: Float32Array,
  frames: number,
  latentFrame: number,
): Float32Array {
  const half = frames * latentFrame;
  const out = new Float32Array(half);
  for (let f = 0; f < frames; f++) {
    const g = guidance[f]!;
    for (let k = f * latentFrame; k < (f + 1) * latentFrame; k++) {
      const neg = v[k]!;
      out[k] = neg + g * (v[half + k]! - neg);
    }
  }
  return out;
}

function toHwcUnit(out: FloatTensor, count: number, height: number, width: number): Float32Array {
  const plane = height * width;
  const hwc = new Float32Array(count * plane * 3);
  for (let n = 0; n < count; n++) {
    const base = n * 3 * plane;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const x = out.data[base + c * plane + p]! / 2 + 0.5;
        hwc[(n * plane + p) * 3 + c] = Math.min(1, Math.max(0, x));
      }
    }
  }
  return hwc;
}

function linspace(a: number, b: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = n === 1 ? a : a + ((b - a) * i) / (n - 1);
  return out;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
