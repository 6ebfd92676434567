/**
 * @stillmotion/engine — Stable Video Diffusion image-to-video on onnxruntime-node.
 *
 * Owns: the model folder contract (model-info), execution providers (runtime), the option grammar
 * (options), preprocessing (preprocess, sizes, clip-resize), the algorithm (scheduler, rng,
 * pipeline), video encoding (video, ffmpeg-path) and the SvdEngine that ties them together.
 * It imports only onnxruntime-node, sharp and ffmpeg; never the app or the bots.
 */
export { clipPixelValues } from './clip-resize.ts';
export { type AnimateContext, type AnimateResult, type AnimateTimings, type EngineLoadOptions, type EngineLogger, SvdEngine, toUint8 } from './engine.ts';
export { CanceledError, DeviceError, EngineError, ImageError, ModelError, OptionError, VideoError } from './errors.ts';
export { checkFfmpeg, resolveFfmpeg } from './ffmpeg-path.ts';
export { BUNDLED_MODEL_DIR, loadModelInfo, MODEL_PARTS, type ModelInfo, type ModelPart } from './model-info.ts';
export * from './options.ts';
export { type InjectedNoise, type PipelineResult, type PipelineRun, runPipeline, type StageTimings, type SvdSessions } from './pipeline.ts';
export * from './preprocess.ts';
export type { ProgressCallback, ProgressEvent } from './progress.ts';
export { NormalRng } from './rng.ts';
export { CUDA_INSTALL_HINT, type Device, DEVICES, loadOrt, parseDevice, type Provider } from './runtime.ts';
export { eulerStep, karrasSchedule, type Schedule } from './scheduler.ts';
export { chooseSize } from './sizes.ts';
export * from './video.ts';
