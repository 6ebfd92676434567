/**
 * @stillmotion/engine — Stable Video Diffusion image-to-video on onnxruntime-node.
 *
 * Owns: the model folder contract (model-info), execution providers (runtime), the option grammar
 * (options), preprocessing (preprocess, sizes, clip-resize), the algorithm (scheduler, rng, steer, text-encoder,
 * pipeline), video encoding (video, video-loop, playback, ffmpeg-path) and the SvdEngine that ties them together.
 * It imports only onnxruntime-node, sharp, ffmpeg and @huggingface/tokenizers; never the app or the bots.
 */
export { clipPixelValues } from './clip-resize.ts';
export {
  type AnimateContext,
  type AnimateResult,
  type AnimateTimings,
  type EngineLoadOptions,
  type EngineLogger,
  SvdEngine,
  toUint8,
} from './engine.ts';
export {
  CanceledError,
  DeviceError,
  EngineError,
  ImageError,
  ModelError,
  OptionError,
  VideoError,
} from './errors.ts';
export { checkFfmpeg, type FfmpegInfo, resolveFfmpeg } from './ffmpeg-path.ts';
export {
  BASE_BYTES,
  DECODE_BYTES_PER_PIXEL,
  defaultBudgetBytes,
  type MemoryPlan,
  type MemoryPlanInput,
  planMemory,
  UNET_BYTES_PER_LATENT_PIXEL,
} from './memory-plan.ts';
export {
  BUNDLED_MODEL_DIR,
  loadModelInfo,
  MODEL_PARTS,
  type ModelInfo,
  type ModelPart,
  type SessionPart,
  type TextEncoderInfo,
} from './model-info.ts';
export * from './options.ts';
export {
  type InjectedNoise,
  type OnceUsedSessions,
  type PipelineResult,
  type PipelineRun,
  runPipeline,
  type StageTimings,
  type SvdSessions,
} from './pipeline.ts';
export {
  describePlayback,
  fadeLength,
  type Playback,
  type PlaybackOptions,
  playbackOf,
} from './playback.ts';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_PIXELS,
  type ImageFormat,
  type ImageInfo,
  type ImageLimits,
  inspectImage,
  loadImage,
  type RgbImage,
  vaePixels,
} from './preprocess.ts';
export {
  encodePreview,
  type LatentRgbMap,
  latentsToRgb,
  type PreviewImage,
  PreviewMaker,
  parseLatentRgbMap,
} from './preview.ts';
export type { ProgressCallback, ProgressEvent } from './progress.ts';
export { NormalRng } from './rng.ts';
export { CUDA_INSTALL_HINT, DEVICES, type Device, loadOrt, type Provider, parseDevice } from './runtime.ts';
export {
  ANIMATELCM,
  type AnimateLcmConfig,
  consistencySchedule,
  consistencyStep,
  EULER,
  type EulerConfig,
  eulerStep,
  karrasSchedule,
  makeSchedule,
  SCHEDULER_DEFAULTS,
  type Schedule,
  type SchedulerConfig,
  type SchedulerName,
} from './scheduler.ts';
export { chooseSize } from './sizes.ts';
export { steerEmbedding } from './steer.ts';
export { ClipTextEncoder } from './text-encoder.ts';
export {
  encodeVideo,
  openVideoEncoder,
  reencodeSmaller,
  type VideoEncoder,
  type VideoEncoderOptions,
  type VideoResult,
} from './video.ts';
export type { ReencodeResult } from './video-reencode.ts';
