/**
 * What `loop` and `smooth` cost in the video step. Prints one JSON line on stdout, progress on stderr.
 *
 * - `synthetic`: `--frames` synthetic RGB frames of `--width`×`--height` (default 25 at 1024×576, SVD's
 *   native size: a textured pattern that drifts a few pixels per frame, so minterpolate has motion to
 *   find) through the engine's encoder, for each case: milliseconds (median of `--runs`), bytes and the
 *   frames and rate of the result. This is ffmpeg work only, no SVD.
 * - `tiny`: whole jobs on the bundled tiny model (14 frames, 128×64, `--tiny-steps` steps) per case:
 *   the engine's video_ms and total_ms. `--skip-tiny` leaves it out.
 *
 * Cases: each loop mode without smoothing, each smooth factor without a loop, and the heaviest mix
 * (boomerang + 4x), as MP4; `--gif` adds the same cases as GIF.
 *
 * Usage: node bench/video-bench.ts [--width 1024] [--height 576] [--frames 25] [--fps 7] [--runs 3]
 *        [--gif] [--skip-tiny] [--tiny-steps 2]
 * Run the 1024×576 measurement under `flock /tmp/stillmotion-heavy.lock` on a shared machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  checkFfmpeg,
  encodeVideo,
  type LoopMode,
  playbackOf,
  SMOOTH_FACTORS,
  type SmoothMode,
  SvdEngine,
  type VideoFormat,
} from '@stillmotion/engine';
import sharp from 'sharp';

const { values } = parseArgs({
  options: {
    width: { type: 'string', default: '1024' },
    height: { type: 'string', default: '576' },
    frames: { type: 'string', default: '25' },
    fps: { type: 'string', default: '7' },
    runs: { type: 'string', default: '3' },
    gif: { type: 'boolean', default: false },
    'skip-tiny': { type: 'boolean', default: false },
    'tiny-steps': { type: 'string', default: '2' },
  },
});
const width = Number(values.width);
const height = Number(values.height);
const frames = Number(values.frames);
const fps = Number(values.fps);
const runs = Number(values.runs);
const log = (msg: string) => process.stderr.write(`video-bench: ${msg}\n`);

interface Case {
  readonly loop: LoopMode;
  readonly smooth: SmoothMode;
  readonly format: VideoFormat;
}

const formats: VideoFormat[] = values.gif ? ['mp4', 'gif'] : ['mp4'];
const CASES: Case[] = formats.flatMap((format) => [
  ...(['off', 'boomerang', 'fade'] as const).map((loop) => ({ loop, smooth: 'off' as const, format })),
  ...(['2x', '3x', '4x'] as const).map((smooth) => ({ loop: 'off' as const, smooth, format })),
  { loop: 'boomerang' as const, smooth: '4x' as const, format },
]);

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number) => Math.round(x);

/** A smooth texture (two crossing sine gratings plus a soft blob) drifting right and down. */
function syntheticFrames(n: number, w: number, h: number): Uint8Array {
  const out = new Uint8Array(n * w * h * 3);
  for (let i = 0; i < n; i++) {
    const dx = 3 * i;
    const dy = 1.5 * i;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const u = x - dx;
        const v = y - dy;
        const blob = Math.exp(-((u - w / 3) ** 2 + (v - h / 2) ** 2) / (2 * (h / 6) ** 2));
        const o = ((i * h + y) * w + x) * 3;
        out[o] = 128 + 90 * Math.sin(u / 23) * Math.cos(v / 31);
        out[o + 1] = 60 + 180 * blob;
        out[o + 2] = 128 + 90 * Math.sin((u + v) / 17);
      }
    }
  }
  return out;
}

function label(c: Case): string {
  return `loop ${c.loop}, smooth ${c.smooth}, ${c.format}`;
}

async function syntheticCases(dir: string) {
  log(`making ${frames} synthetic frames of ${width}×${height}`);
  const rgb = syntheticFrames(frames, width, height);
  const results = [];
  for (const c of CASES) {
    const outPath = path.join(dir, `synthetic.${c.format}`);
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < runs; r++) {
      const t = performance.now();
      const video = await encodeVideo({
        frames: rgb,
        numFrames: frames,
        width,
        height,
        fps,
        format: c.format,
        loop: c.loop,
        smooth: SMOOTH_FACTORS[c.smooth],
        outPath,
      });
      times.push(performance.now() - t);
      bytes = video.bytes;
    }
    const made = playbackOf({ frames, fps, loop: c.loop, smooth: c.smooth });
    const result = { ...c, frames_out: made.frames, fps_out: made.fps, ms: round(median(times)), bytes };
    log(`${label(c)}: ${result.ms} ms, ${result.frames_out} frames, ${bytes} bytes`);
    results.push(result);
  }
  return results;
}

async function tinyCases(dir: string) {
  const engine = await SvdEngine.load({ device: 'cpu' });
  try {
    const { width: w, height: h } = engine.model;
    const picture = await sharp({ create: { width: w, height: h, channels: 3, background: '#3a7' } })
      .png()
      .toBuffer();
    await engine.warmup();
    const results = [];
    for (const c of CASES) {
      const options = engine.resolveOptions({ ...c, steps: values['tiny-steps'], seed: 1 });
      const video: number[] = [];
      const total: number[] = [];
      let out = { frames: 0, fps: 0, bytes: 0 };
      for (let r = 0; r < runs; r++) {
        const res = await engine.animate(picture, options, { outPath: path.join(dir, `tiny.${c.format}`) });
        video.push(res.timings.video_ms);
        total.push(res.timings.total_ms);
        out = res;
      }
      const result = {
        ...c,
        frames_out: out.frames,
        fps_out: out.fps,
        video_ms: round(median(video)),
        total_ms: round(median(total)),
        bytes: out.bytes,
      };
      log(`tiny, ${label(c)}: video ${result.video_ms} ms of ${result.total_ms} ms`);
      results.push(result);
    }
    return { model: engine.model.name, width: w, height: h, frames: engine.model.frames, results };
  } finally {
    await engine.release();
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-video-bench-'));
try {
  const ffmpeg = await checkFfmpeg();
  const synthetic = await syntheticCases(dir);
  const tiny = values['skip-tiny'] ? undefined : await tinyCases(dir);
  const report = {
    bench: 'video',
    ffmpeg: `${ffmpeg.version} (${ffmpeg.source})`,
    cpus: os.cpus().length,
    cpu_model: os.cpus()[0]?.model,
    runs,
    synthetic: { width, height, frames, fps, results: synthetic },
    ...(tiny ? { tiny: { steps: Number(values['tiny-steps']), ...tiny } } : {}),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
