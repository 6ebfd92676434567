/**
 * `loop` and `smooth` through real ffmpeg: frame counts from ffprobe, and the frames decoded back
 * (first, last and every one between) against what playback.ts says each mode makes.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VideoError } from '../../engine/src/errors.ts';
import type { LoopMode } from '../../engine/src/options.ts';
import { fadeLength, playbackOf } from '../../engine/src/playback.ts';
import { encodeVideo, openVideoEncoder, reencodeSmaller } from '../../engine/src/video.ts';
import { ffprobe } from '../helpers/ffprobe.ts';
import { execFileAsync, frameMeans, greyFrames, leftovers, rejection } from '../helpers/video.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-loop-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Grey levels with no pattern, so a fade or a reversal cannot pass by accident. */
const LEVELS = [30, 200, 60, 220, 90, 180, 40, 150, 110];
const N = LEVELS.length;

/** The grey levels each loop mode should give, worked out here from the definition, not from the code. */
function expectedLevels(loop: LoopMode, levels: readonly number[] = LEVELS): number[] {
  if (loop === 'boomerang') return [...levels, ...levels.slice(1, -1).reverse()];
  if (loop === 'fade') {
    const k = 2; // ⌊9/4⌋
    const middle = levels.slice(k, N - k);
    const faded = [0, 1].map((j) => {
      const w = (j + 1) / (k + 1);
      return (1 - w) * levels[N - k + j]! + w * levels[j]!;
    });
    return [...middle, ...faded];
  }
  return [...levels];
}

async function encodeGreys(
  name: string,
  format: 'mp4' | 'gif',
  loop: LoopMode,
  smooth = 1,
  levels: readonly number[] = LEVELS,
) {
  const outPath = path.join(dir, name);
  await encodeVideo({
    frames: greyFrames(N, 64, 64, (i) => levels[i]!),
    numFrames: N,
    width: 64,
    height: 64,
    fps: 7,
    format,
    loop,
    smooth,
    outPath,
  });
  return outPath;
}

describe.each(['mp4', 'gif'] as const)('loop, %s', (format) => {
  it.each([
    ['off', N],
    ['boomerang', 2 * N - 2],
    ['fade', N - 2],
  ] as const)('%s: %i frames, each the one the mode defines', async (loop, count) => {
    const file = await encodeGreys(`${loop}.${format}`, format, loop);
    const probe = await ffprobe(file);
    expect(probe.nb_frames).toBe(count);
    expect(playbackOf({ frames: N, fps: 7, loop, smooth: 'off' }).frames).toBe(count);
    expect(probe.fps).toBeCloseTo(7, 1);
    const means = await frameMeans(file, 64, 64);
    const expected = expectedLevels(loop);
    expect(means).toHaveLength(expected.length);
    for (let i = 0; i < expected.length; i++)
      expect(Math.abs(means[i]! - expected[i]!), `frame ${i}`).toBeLessThan(3);
    expect(leftovers(dir)).toEqual([]);
  });

  it('first and last frames: a boomerang ends one step from where it began, a fade wraps without a jump', async () => {
    const [off, boomerang, fade] = await Promise.all(
      (['off', 'boomerang', 'fade'] as const).map(async (loop) =>
        frameMeans(await encodeGreys(`ends-${loop}.${format}`, format, loop), 64, 64),
      ),
    );
    // Off: the clip ends on its last frame, far from its first (the jump a loop removes).
    expect(off[0]).toBeCloseTo(LEVELS[0]!, -1);
    expect(off.at(-1)).toBeCloseTo(LEVELS[N - 1]!, -1);
    // Boomerang: starts on frame 0 and ends on frame 1, so it wraps 1 → 0; it reads the same backwards.
    expect(Math.abs(boomerang[0]! - LEVELS[0]!)).toBeLessThan(3);
    expect(Math.abs(boomerang.at(-1)! - LEVELS[1]!)).toBeLessThan(3);
    for (let i = 1; i <= N - 2; i++) {
      expect(Math.abs(boomerang[i]! - boomerang[2 * N - 2 - i]!), `frame ${i}`).toBeLessThan(3);
    }
    // Fade: starts on frame k; its last frame is mostly frame k−1, the frame before frame k.
    const k = fadeLength(N);
    expect(Math.abs(fade[0]! - LEVELS[k]!)).toBeLessThan(3);
    const w = k / (k + 1);
    expect(Math.abs(fade.at(-1)! - ((1 - w) * LEVELS[N - 1]! + w * LEVELS[k - 1]!))).toBeLessThan(3);
  });
});

describe('fade length', () => {
  it('cross-fades a quarter of the frames, rounded down', () => {
    expect([4, 9, 14, 25].map(fadeLength)).toEqual([1, 2, 3, 6]);
    expect(playbackOf({ frames: 25, fps: 7, loop: 'fade', smooth: 'off' }).frames).toBe(19);
    expect(playbackOf({ frames: 14, fps: 7, loop: 'boomerang', smooth: 'off' }).frames).toBe(26);
  });
});

describe('smooth', () => {
  /** A 16×16 white square moving 16 px right per frame on black. */
  function movingSquare(n: number, width: number, height: number): Uint8Array {
    const frames = new Uint8Array(n * width * height * 3);
    for (let i = 0; i < n; i++) {
      for (let y = 24; y < 40; y++) {
        const row = (i * height + y) * width;
        frames.fill(255, (row + 16 + 16 * i) * 3, (row + 32 + 16 * i) * 3);
      }
    }
    return frames;
  }

  /** Per decoded frame: bright pixels and their mean x. */
  async function squares(file: string, width: number, height: number) {
    const { stdout } = await execFileAsync(
      '/usr/bin/ffmpeg',
      ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
    );
    const out: { bright: number; x: number }[] = [];
    for (let o = 0; o < stdout.length; o += width * height) {
      let bright = 0;
      let sx = 0;
      for (let p = 0; p < width * height; p++) {
        if (stdout[o + p]! > 200) {
          bright++;
          sx += p % width;
        }
      }
      out.push({ bright, x: sx / bright });
    }
    return out;
  }

  it.each([
    [2, 'mp4'],
    [3, 'mp4'],
    [4, 'gif'],
  ] as const)(
    '%i×, %s: (n−1)·m+1 frames at fps × m, the in-between frames moved, not blended',
    async (m, format) => {
      const n = 5;
      const file = path.join(dir, `square-${m}.${format}`);
      await encodeVideo({
        frames: movingSquare(n, 128, 64),
        numFrames: n,
        width: 128,
        height: 64,
        fps: 7,
        format,
        smooth: m,
        outPath: file,
      });
      const probe = await ffprobe(file);
      const count = (n - 1) * m + 1;
      expect(probe.nb_frames).toBe(count);
      expect(playbackOf({ frames: n, fps: 7, loop: 'off', smooth: `${m}x` as '2x' }).frames).toBe(count);
      if (format === 'mp4') expect(probe.fps).toBe(7 * m);
      const seen = await squares(file, 128, 64);
      expect(seen).toHaveLength(count);
      // Frame t shows one whole square at 16·t/m px: first frame at frame 0's place, last at frame n−1's.
      // A blend would show two half-bright squares instead (no pixel over 200 between the originals).
      seen.forEach((s, t) => {
        expect(s.bright, `frame ${t}`).toBeGreaterThan(200);
        expect(s.bright, `frame ${t}`).toBeLessThan(320);
        expect(Math.abs(s.x - (23.5 + (16 * t) / m)), `frame ${t}`).toBeLessThan(2);
      });
    },
  );

  it('with a boomerang loop: n·m frames, the square moving back and the wrap interpolated too', async () => {
    const n = 5;
    const file = path.join(dir, 'square-boomerang.mp4');
    await encodeVideo({
      frames: movingSquare(n, 128, 64),
      numFrames: n,
      width: 128,
      height: 64,
      fps: 7,
      format: 'mp4',
      loop: 'boomerang',
      smooth: 2,
      outPath: file,
    });
    // The loop's places: 0 1 2 3 4 3 2 1, then back to 0; at 2× each step has a frame half-way.
    const places = [0, 1, 2, 3, 4, 3, 2, 1, 0];
    const count = 8 * 2;
    expect((await ffprobe(file)).nb_frames).toBe(count);
    expect(playbackOf({ frames: n, fps: 7, loop: 'boomerang', smooth: '2x' }).frames).toBe(count);
    const seen = await squares(file, 128, 64);
    expect(seen).toHaveLength(count);
    seen.forEach((s, t) => {
      const place = (places[Math.floor(t / 2)]! + places[Math.ceil(t / 2)]!) / 2;
      expect(s.bright, `frame ${t}`).toBeGreaterThan(200);
      expect(Math.abs(s.x - (23.5 + 16 * place)), `frame ${t}`).toBeLessThan(2);
    });
    // The last frame is half-way between frame 1 and frame 0: the wrap is a half step like the others.
    expect(seen.at(-1)!.x).toBeCloseTo(23.5 + 8, 0);
  });

  it('with a fade loop (gif): n·m frames, the wrap interpolated too', async () => {
    // A gentle ramp: minterpolate's scene-change detection leaves big jumps uninterpolated.
    const ramp = Array.from({ length: N }, (_, i) => 60 + 10 * i);
    const file = await encodeGreys('smooth-fade.gif', 'gif', 'fade', 2, ramp);
    const looped = expectedLevels('fade', ramp);
    expect((await ffprobe(file)).nb_frames).toBe(looped.length * 2);
    expect(playbackOf({ frames: N, fps: 7, loop: 'fade', smooth: '2x' }).frames).toBe(looped.length * 2);
    const means = await frameMeans(file, 64, 64);
    // Every even frame is a looped frame, the odd ones lie between; the last between the loop's end and its start.
    const between = [...looped, looped[0]!];
    means.forEach((m, t) => {
      const want = (between[Math.floor(t / 2)]! + between[Math.ceil(t / 2)]!) / 2;
      expect(Math.abs(m - want), `frame ${t}`).toBeLessThan(3);
    });
    expect(Math.abs(means.at(-1)! - looped.at(-1)!)).toBeGreaterThan(3);
    expect(Math.abs(means.at(-1)! - looped[0]!)).toBeGreaterThan(3);
  });

  it('the re-encode for an upload limit keeps a smoothed clip’s frames and rate', async () => {
    const frames = new Uint8Array(8 * 180 * 320 * 3);
    randomFillSync(frames);
    const file = path.join(dir, 'smooth-noisy.mp4');
    await encodeVideo({
      frames,
      numFrames: 8,
      width: 320,
      height: 180,
      fps: 7,
      format: 'mp4',
      smooth: 3,
      outPath: file,
    });
    const before = await ffprobe(file);
    expect(before).toMatchObject({ nb_frames: 22, fps: 21 });
    const limit = Math.floor(readFileSync(file).length / 4);
    const r = await reencodeSmaller(file, path.join(dir, 'smooth-small.mp4'), limit);
    expect(r.bytes).toBeLessThanOrEqual(limit);
    expect(await ffprobe(r.path)).toMatchObject({ nb_frames: 22, fps: 21 });
  });

  it('refuses a loop without its frame count, and a clip that is not the frames it announced', async () => {
    const base = { width: 64, height: 64, fps: 7, format: 'mp4' as const, outPath: path.join(dir, 'x.mp4') };
    expect(() => openVideoEncoder({ ...base, loop: 'fade' })).toThrow(VideoError);
    expect(() => openVideoEncoder({ ...base, smooth: 1.5 })).toThrow(VideoError);
    // Smoothing alone needs no frame count: 3 frames at 2× are 5, from the first to the last.
    const plain = openVideoEncoder({ ...base, smooth: 2 });
    await plain.write(greyFrames(3, 64, 64), 3);
    await plain.finish();
    expect((await ffprobe(base.outPath)).nb_frames).toBe(5);
    const encoder = openVideoEncoder({ ...base, loop: 'boomerang', sourceFrames: 4 });
    await encoder.write(greyFrames(3, 64, 64), 3);
    expect(String(await rejection(encoder.finish()))).toMatch(/expects 4 frames, got 3/);
    expect(leftovers(dir)).toEqual([]);
  });
});
