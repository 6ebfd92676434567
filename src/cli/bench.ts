/**
 * `npm run bench -- [--model DIR] [--device auto|cuda|cpu] [--frames N] [--steps N] [--runs N]`
 *
 * Times one whole job per run, stage by stage, after the engine's own (small) warm-up, and prints one JSON line on stdout:
 * milliseconds for preprocess, clip, vae_encode, unet per step (median), vae_decode and video, the
 * total, peak RSS, provider and model. With several runs, each number is the median over runs.
 * Steps and guidance default to the model's (25 and 1-3 for SVD, 4 and 1-1.2 for AnimateLCM-SVD-xt).
 * Live previews are on in the runs, as in the sidecar. Their cost per step is timed on its own (medians
 * of 5, nothing else running): `preview_map_ms` (x0 → RGB, in the loop) and `preview_encode_ms` (the
 * WebP, in sharp's threads) for this job's latents; `previews_per_job` (the engine keeps previews within
 * 5% of the run time, so it skips steps when they cost more); `preview_share` the cost per step over
 * the UNet step; and
 * the same two at SVD-XT's latent size (25 frames of 72×128) in `preview_svd_size_ms`.
 * Progress goes to stderr. `--skip-video` leaves the video encode out (video_ms 0), for machines
 * without ffmpeg such as the device machine; time that step where ffmpeg exists and add it.
 */
// First: it may start the process again with glibc's malloc tuned (malloc-tuning.ts).
import '../malloc-tuning.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  type AnimateOptions,
  type AnimateTimings,
  encodePreview,
  latentsToRgb,
  type MemoryPlan,
  NormalRng,
  SvdEngine,
} from '@stillmotion/engine';
import sharp from 'sharp';
import { engineLoadSettings } from '../config.ts';

export interface BenchReport {
  model: string;
  provider: string;
  frames: number;
  steps: number;
  guidance: readonly [number, number];
  width: number;
  height: number;
  runs: number;
  load_ms: number;
  /** engine.warmup(): one step at the smallest shape, as the sidecar does at start. */
  warmup_ms: number;
  /** Each run's total, in order: the first one pays for planning the real shapes. */
  run_total_ms: number[];
  decode_chunk: number;
  sequential_guidance: boolean;
  /** CLIP and the VAE encoder and decoder unloaded after their stage (the CPU plan, memory-plan.ts). */
  unload_once_used: boolean;
  preprocess_ms: number;
  clip_ms: number;
  vae_encode_ms: number;
  unet_step_ms: number;
  vae_decode_ms: number;
  video_ms: number;
  total_ms: number;
  preview_map_ms: number;
  preview_encode_ms: number;
  /** Previews made per job (the budget skips steps), median over runs. */
  previews_per_job: number;
  /** (preview_map_ms + preview_encode_ms) · previews_per_job / steps / unet_step_ms: the cost per step. */
  preview_share: number;
  preview_svd_size_ms: { map: number; encode: number };
  peak_rss_mb: number;
  /**
   * Peak RSS (sampled every 100 ms) in each stage of the first run: the encoders (CLIP + VAE), the
   * denoising loop and the decode; and in the load and warm-up before it.
   */
  peak_rss_by_stage_mb: { load_warmup: number; encode: number; unet: number; vae_decode: number };
  /** CPU seconds (user + system, all threads) per run: less sensitive than wall time to a busy machine. */
  cpu_s: number;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number) => Math.round(x * 100) / 100;
const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};

export async function bench(opts: {
  model?: string;
  device?: string;
  frames?: number;
  steps?: number;
  runs?: number;
  skipVideo?: boolean;
}): Promise<BenchReport> {
  const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
  const sampler = rssSampler();
  let t = performance.now();
  const settings = engineLoadSettings();
  const engine = await SvdEngine.load({
    ...settings,
    modelDir: opts.model ?? settings.modelDir,
    device: opts.device ?? settings.device,
    logger: { info: (_o, m) => log(m ?? ''), warn: (_o, m) => log(m ?? '') },
  });
  const load_ms = performance.now() - t;
  const { width, height } = engine.model;
  const options = engine.resolveOptions({
    frames: opts.frames,
    steps: opts.steps,
    seed: 1,
    size: 'landscape',
  });
  const picture = await testPicture(width, height);
  const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-bench-'));
  try {
    log(`warm-up on ${engine.provider}`);
    t = performance.now();
    await engine.warmup();
    const warmup_ms = performance.now() - t;
    const runs = Math.max(1, opts.runs ?? 1);
    const cpuBefore = process.cpuUsage();
    const firstStart = performance.now();
    const { results, plan } = await timedRuns(engine, picture, options, {
      runs,
      dir,
      skipVideo: opts.skipVideo,
      log,
    });
    const pick = (f: (x: AnimateTimings) => number) => round(median(results.map(f)));
    const unet_step_ms = pick((x) => median(x.unet_step_ms));
    const own = await previewCost(engine, options.frames, height / 8, width / 8, options.fps);
    const preview_map_ms = own.map;
    const preview_encode_ms = own.encode;
    const previews_per_job = pick((x) => x.preview_map_ms.length);
    return {
      model: engine.model.name,
      provider: engine.provider,
      frames: options.frames,
      steps: options.steps,
      guidance: options.guidance,
      width,
      height,
      runs,
      load_ms: round(load_ms),
      warmup_ms: round(warmup_ms),
      run_total_ms: results.map((x) => round(x.total_ms)),
      decode_chunk: plan.decodeChunk,
      sequential_guidance: plan.sequentialGuidance,
      unload_once_used: plan.unloadOnceUsed,
      preprocess_ms: pick((x) => x.preprocess_ms),
      clip_ms: pick((x) => x.clip_ms),
      vae_encode_ms: pick((x) => x.vae_encode_ms),
      unet_step_ms,
      vae_decode_ms: pick((x) => x.vae_decode_ms),
      video_ms: pick((x) => x.video_ms),
      total_ms: pick((x) => x.total_ms),
      preview_map_ms,
      preview_encode_ms,
      previews_per_job,
      preview_share:
        Math.round(
          (((preview_map_ms + preview_encode_ms) * previews_per_job) / options.steps / unet_step_ms) * 10_000,
        ) / 10_000,
      preview_svd_size_ms: await previewCost(engine, 25, 72, 128, 7),
      peak_rss_by_stage_mb: sampler.byStage(firstStart, results[0]!),
      peak_rss_mb: round(process.resourceUsage().maxRSS / 1024),
      cpu_s: round(cpuSeconds(cpuBefore) / runs),
    };
  } finally {
    sampler.stop();
    await engine.release();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Samples RSS every 100 ms (the sessions run off the main thread, so the timer keeps firing). */
function rssSampler() {
  const samples: [number, number][] = [];
  const timer = setInterval(() => samples.push([performance.now(), process.memoryUsage.rss()]), 100);
  timer.unref();
  const peak = (from: number, to: number) =>
    round(Math.max(0, ...samples.filter(([at]) => at >= from && at < to).map(([, rss]) => rss)) / 2 ** 20);
  return {
    stop: () => clearInterval(timer),
    /** Stage windows from the first run's start and its stage timings, in pipeline order. */
    byStage(start: number, x: AnimateTimings) {
      const encodeEnd = start + x.preprocess_ms + x.clip_ms + x.vae_encode_ms;
      const unetEnd = encodeEnd + x.unet_step_ms.reduce((a, b) => a + b, 0);
      return {
        load_warmup: peak(0, start),
        encode: peak(start, encodeEnd),
        unet: peak(encodeEnd, unetEnd),
        vae_decode: peak(unetEnd, unetEnd + x.vae_decode_ms + 1000),
      };
    },
  };
}

/** A smooth test picture (an orange disc on blue) at the model's native size. */
function testPicture(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 40, g: 90, b: 160 } } })
    .composite([
      {
        input: Buffer.from(
          `<svg width="${width}" height="${height}"><circle cx="${width / 2}" cy="${height / 2}" r="${height / 3}" fill="orange"/></svg>`,
        ),
      },
    ])
    .png()
    .toBuffer();
}

/** `runs` whole jobs one after another, with previews on (as the bots ask), logging each step. */
async function timedRuns(
  engine: SvdEngine,
  picture: Buffer,
  options: AnimateOptions,
  o: { runs: number; dir: string; skipVideo?: boolean; log: (msg: string) => void },
): Promise<{ results: AnimateTimings[]; plan: MemoryPlan }> {
  const results: AnimateTimings[] = [];
  let plan: MemoryPlan | undefined;
  for (let r = 0; r < o.runs; r++) {
    const result = await engine.animate(picture, options, {
      outPath: path.join(o.dir, `run${r}.mp4`),
      skipVideo: o.skipVideo,
      lastJob: r === o.runs - 1,
      onPreview: () => {},
      onProgress: (e) => {
        if (e.stage === 'denoise')
          o.log(`run ${r + 1}/${o.runs} step ${e.step}/${e.steps} ${e.stepMs.toFixed(0)} ms`);
      },
    });
    results.push(result.timings);
    plan = result.plan;
  }
  return { results, plan: plan! };
}

/** The preview's two costs for latents [frames,4,h,w], medians of 5, with this model's map. */
async function previewCost(
  engine: SvdEngine,
  frames: number,
  h: number,
  w: number,
  fps: number,
): Promise<{ map: number; encode: number }> {
  const map = engine.model.previewMap;
  if (!map) return { map: 0, encode: 0 };
  const x0 = new NormalRng(5).randn(frames * 4 * h * w);
  const mapMs: number[] = [];
  const encodeMs: number[] = [];
  for (let r = 0; r < 5; r++) {
    let t = performance.now();
    const rgb = latentsToRgb(x0, frames, h, w, map);
    mapMs.push(performance.now() - t);
    t = performance.now();
    await encodePreview(rgb, w * 2, h * 2, frames, fps);
    encodeMs.push(performance.now() - t);
  }
  return { map: round(median(mapMs)), encode: round(median(encodeMs)) };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      device: { type: 'string' },
      frames: { type: 'string' },
      steps: { type: 'string' },
      runs: { type: 'string' },
      'skip-video': { type: 'boolean' },
    },
  });
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  try {
    const report = await bench({
      model: values.model,
      device: values.device,
      frames: num(values.frames),
      steps: num(values.steps),
      runs: num(values.runs),
      skipVideo: values['skip-video'],
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  }
}
