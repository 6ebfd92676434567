/**
 * `npm run --silent parity -- <model_dir> <case_dir>`: runs one reference case (the format of
 * shared/fixtures/svd-tiny/case_public: diffusers' StableVideoDiffusionPipeline; or of
 * test/fixtures/case_animatelcm: AnimateLCM's pipeline and scheduler) through our engine with the
 * case's recorded noise draws and parameters, and prints one JSON line: the frame errors in the [0,1]
 * scale, and per-stage errors (null where the case lacks the tensor). The model folder must name the
 * scheduler the case ran (case.json `scheduler.name`; none means Euler), e.g.
 * test/fixtures/tiny-animatelcm for the AnimateLCM case.
 * Exits 1 when max_abs_err > 2e-3, 2 on bad usage. Logs go to stderr. `--sequential-guidance` runs the
 * two guidance halves as two batch-1 UNet calls (the engine's low-memory mode), which must match too.
 */
// First: it may start the process again with glibc's malloc tuned (malloc-tuning.ts).
import '../malloc-tuning.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EULER, loadImage, resolveOptions, runPipeline, SvdEngine } from '@stillmotion/engine';
import { engineLoadSettings } from '../config.ts';
import { compare, type ErrorStats, readF32 } from './tensor-file.ts';

export const PARITY_TOLERANCE = 2e-3;

interface CaseParams {
  height: number;
  width: number;
  num_frames: number;
  num_inference_steps: number;
  fps: number;
  motion_bucket_id: number;
  noise_aug_strength: number;
  min_guidance_scale: number;
  max_guidance_scale: number;
  decode_chunk_size?: number;
}

export interface ParityReport {
  case: string;
  max_abs_err: number;
  mean_abs_err: number;
  clip_pixel_values_max_abs_err: number | null;
  image_embeds_max_abs_err: number | null;
  image_latents_max_abs_err: number | null;
  frames: number;
  steps: number;
  scheduler: string;
  provider: string;
  pass: boolean;
}

export async function runParity(
  modelDir: string,
  caseDir: string,
  opts: { sequentialGuidance?: boolean } = {},
): Promise<ParityReport> {
  const reference = JSON.parse(readFileSync(path.join(caseDir, 'case.json'), 'utf8'));
  const params = reference.params as CaseParams;
  const scheduler: string = reference.scheduler?.name ?? EULER.name;
  const engine = await SvdEngine.load({ modelDir, device: engineLoadSettings().device ?? 'cpu' });
  try {
    if (engine.model.scheduler.name !== scheduler)
      throw new Error(
        `${caseDir} was made with ${scheduler}, but ${modelDir} names ${engine.model.scheduler.name}`,
      );
    const options = resolveOptions(
      {
        frames: params.num_frames,
        steps: params.num_inference_steps,
        fps: params.fps,
        motion: params.motion_bucket_id,
        noise: params.noise_aug_strength,
        guidance: [params.min_guidance_scale, params.max_guidance_scale],
        seed: 0,
      },
      // A case may ask for more frames than model.json's default; the architecture does not care.
      { ...engine.model, frames: Math.max(engine.model.frames, params.num_frames) },
    );
    const image = await loadImage(readFileSync(path.join(caseDir, 'input.png')), {
      width: params.width,
      height: params.height,
    });
    const noiseAug = readF32(path.join(caseDir, 'noise_aug_noise.f32'));
    const initialLatents = readF32(path.join(caseDir, 'initial_latents_unscaled.f32'));
    if (!noiseAug || !initialLatents)
      throw new Error(`${caseDir} lacks noise_aug_noise.f32 or initial_latents_unscaled.f32`);
    // Draw 3, the consistency scheduler's noise between steps (Euler cases have none).
    const stepNoise = readF32(path.join(caseDir, 'step_noise.f32')) ?? undefined;
    if (scheduler !== EULER.name && !stepNoise) throw new Error(`${caseDir} lacks step_noise.f32`);
    const frames = new Float32Array(params.num_frames * params.height * params.width * 3);
    let written = 0;
    const result = await runPipeline(engine.model, engine.sessions, {
      rgb: image.rgb,
      width: image.width,
      height: image.height,
      options,
      decodeChunkSize: params.decode_chunk_size ?? params.num_frames,
      sequentialGuidance: opts.sequentialGuidance,
      noise: { noiseAug, initialLatents, stepNoise },
      onProgress: (e) => process.stderr.write(`parity: ${JSON.stringify(e)}\n`),
      onFrames: (chunk) => {
        frames.set(chunk, written);
        written += chunk.length;
      },
    });
    const stage = (file: string, actual: Float32Array): number | null => {
      const expected = readF32(path.join(caseDir, file));
      return expected ? compare(actual, expected, file).max_abs_err : null;
    };
    const expectedFrames = readF32(path.join(caseDir, 'frames.f32'));
    if (!expectedFrames) throw new Error(`${caseDir} lacks frames.f32`);
    const err: ErrorStats = compare(frames, expectedFrames, 'frames');
    return {
      case: path.basename(path.resolve(caseDir)),
      ...err,
      clip_pixel_values_max_abs_err: stage('clip_pixel_values.f32', result.clipPixels),
      image_embeds_max_abs_err: stage('image_embeds.f32', result.imageEmbeds),
      image_latents_max_abs_err: stage('image_latents.f32', result.imageLatents),
      frames: params.num_frames,
      steps: params.num_inference_steps,
      scheduler,
      provider: engine.provider,
      pass: err.max_abs_err <= PARITY_TOLERANCE,
    };
  } finally {
    await engine.release();
  }
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const sequentialGuidance = args.includes('--sequential-guidance');
  const [modelDir, caseDir] = args.filter((a) => a !== '--sequential-guidance');
  if (!modelDir || !caseDir) {
    process.stderr.write('usage: npm run --silent parity -- <model_dir> <case_dir>\n');
    process.exit(2);
  }
  try {
    const report = await runParity(modelDir, caseDir, { sequentialGuidance });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    process.exit(report.pass ? 0 : 1);
  } catch (err) {
    process.stderr.write(`parity: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  }
}
