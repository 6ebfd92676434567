import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanceledError, VideoError } from '../../engine/src/errors.ts';
import { resolveFfmpeg } from '../../engine/src/ffmpeg-path.ts';
import { encodeVideo, openVideoEncoder } from '../../engine/src/video.ts';
import { ffprobe } from '../helpers/ffprobe.ts';
import {
  childPids,
  execFileAsync,
  expectGreyRamp,
  frameMeans,
  greyFrames,
  isAlive,
  leftovers,
  processGroup,
  rejection,
  topLevelBoxes,
} from '../helpers/video.ts';

const packageFfmpeg = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-video-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('encodeVideo mp4', () => {
  it('writes H.264 yuv420p with exactly the frames given, at the fps, moov before mdat', async () => {
    const outPath = path.join(dir, 'nine.mp4');
    const r = await encodeVideo({
      frames: greyFrames(9, 128, 64),
      numFrames: 9,
      width: 128,
      height: 64,
      fps: 7,
      format: 'mp4',
      outPath,
    });
    expect(r.path).toBe(outPath);
    expect(r.bytes).toBe(readFileSync(outPath).length);
    const p = await ffprobe(outPath);
    expect(p).toMatchObject({
      codec: 'h264',
      pix_fmt: 'yuv420p',
      width: 128,
      height: 64,
      nb_frames: 9,
      fps: 7,
    });
    expect(p.duration).toBeCloseTo(9 / 7, 2);
    const boxes = topLevelBoxes(outPath);
    expect(boxes[0]).toBe('ftyp');
    expect(boxes).toContain('mdat');
    expect(boxes.indexOf('moov')).toBeGreaterThan(-1);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
    // Frame i is grey 20+25i: each comes out once, in order, nothing duplicated or dropped.
    const means = await frameMeans(outPath, 128, 64);
    expect(means).toHaveLength(9);
    expectGreyRamp(means, 9);
    expect(leftovers(dir)).toEqual([]);
  });

  it('plays at the fps it is given', async () => {
    const outPath = path.join(dir, 'fps12.mp4');
    await encodeVideo({
      frames: greyFrames(6, 64, 64),
      numFrames: 6,
      width: 64,
      height: 64,
      fps: 12,
      format: 'mp4',
      outPath,
    });
    const p = await ffprobe(outPath);
    expect(p.fps).toBe(12);
    expect(p.nb_frames).toBe(6);
    expect(p.duration).toBeCloseTo(0.5, 2);
  });

  it('pads odd sizes to even ones by repeating the edge pixels', async () => {
    const outPath = path.join(dir, 'odd.mp4');
    const frames = greyFrames(9, 127, 65, () => 200);
    const r = await encodeVideo({
      frames,
      numFrames: 9,
      width: 127,
      height: 65,
      fps: 7,
      format: 'mp4',
      outPath,
    });
    const p = await ffprobe(r.path);
    expect(p).toMatchObject({ codec: 'h264', pix_fmt: 'yuv420p', width: 128, height: 66, nb_frames: 9 });
    // The added column and row repeat the picture's edge (grey 200), not black.
    const { stdout } = await execFileAsync(
      '/usr/bin/ffmpeg',
      ['-v', 'error', '-i', outPath, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
      { encoding: 'buffer' },
    );
    expect(stdout.length).toBe(128 * 66);
    expect(Math.abs(stdout[127] - 200)).toBeLessThan(8); // last column, first row
    expect(Math.abs(stdout[65 * 128 + 5] - 200)).toBeLessThan(8); // last row
    expect(Math.abs(stdout[128 * 66 - 1] - 200)).toBeLessThan(8); // corner
  });

  it('rejects a frame buffer of the wrong length with a VideoError', async () => {
    const err = await rejection(
      encodeVideo({
        frames: new Uint8Array(100),
        numFrames: 9,
        width: 128,
        height: 64,
        fps: 7,
        format: 'mp4',
        outPath: path.join(dir, 'bad.mp4'),
      }),
    );
    expect(err).toBeInstanceOf(VideoError);
    expect((err as Error).message).toMatch(/expected 9 frames of 128×64×3 bytes/);
    expect(existsSync(path.join(dir, 'bad.mp4'))).toBe(false);
  });

  it('rejects bad sizes and fps before starting ffmpeg', () => {
    const base = { width: 128, height: 64, fps: 7, format: 'mp4' as const, outPath: path.join(dir, 'x.mp4') };
    expect(() => openVideoEncoder({ ...base, width: 0 })).toThrow(/width must be an integer/);
    expect(() => openVideoEncoder({ ...base, fps: 0 })).toThrow(/fps must be a number/);
    expect(() => openVideoEncoder({ ...base, format: 'avi' as 'mp4' })).toThrow(VideoError);
  });

  it('turns an ffmpeg failure into a VideoError carrying the last stderr lines', async () => {
    const outPath = path.join(dir, 'no-such-dir', 'out.mp4');
    const err = await rejection(
      encodeVideo({
        frames: greyFrames(2, 64, 64),
        numFrames: 2,
        width: 64,
        height: 64,
        fps: 7,
        format: 'mp4',
        outPath,
      }),
    );
    expect(err).toBeInstanceOf(VideoError);
    expect((err as Error).message).toMatch(/^ffmpeg failed: ffmpeg exited with code \d+/);
    expect((err as Error).message).toMatch(/No such file or directory/);
  });
});

describe('encodeVideo gif', () => {
  it('writes a palette GIF with every frame', async () => {
    const outPath = path.join(dir, 'nine.gif');
    const r = await encodeVideo({
      frames: greyFrames(9, 128, 64),
      numFrames: 9,
      width: 128,
      height: 64,
      fps: 7,
      format: 'gif',
      outPath,
    });
    expect(readFileSync(r.path).subarray(0, 6).toString('latin1')).toBe('GIF89a');
    const p = await ffprobe(r.path);
    expect(p).toMatchObject({ codec: 'gif', width: 128, height: 64, nb_frames: 9 });
    expect(p.duration).toBeCloseTo(9 / 7, 1);
    const means = await frameMeans(r.path, 128, 64);
    expectGreyRamp(means, 9);
  });
});

describe('openVideoEncoder (streaming)', () => {
  it('takes frames in chunks and writes them all in order', async () => {
    const outPath = path.join(dir, 'chunks.mp4');
    const all = greyFrames(9, 128, 64);
    const frameBytes = 128 * 64 * 3;
    const encoder = openVideoEncoder({ width: 128, height: 64, fps: 7, format: 'mp4', outPath });
    await encoder.write(all.subarray(0, 4 * frameBytes), 4);
    // The buffer may be reused once write() resolves.
    const reused = all.slice(4 * frameBytes, 8 * frameBytes);
    const pending = encoder.write(reused, 4);
    await pending;
    reused.fill(0);
    await encoder.write(all.subarray(8 * frameBytes), 1);
    const finishing = encoder.finish();
    await expect(encoder.write(all.subarray(0, frameBytes), 1)).rejects.toThrow(/encoder is closed/);
    await expect(encoder.finish()).rejects.toThrow(/encoder is closed/);
    const r = await finishing;
    expect((await ffprobe(r.path)).nb_frames).toBe(9);
    const means = await frameMeans(r.path, 128, 64);
    expectGreyRamp(means, 9);
  });

  it('resolves a write only once ffmpeg has read it (backpressure)', async () => {
    const outPath = path.join(dir, 'backpressure.mp4');
    const frames = greyFrames(20, 640, 360, (i) => 10 * i);
    const encoder = openVideoEncoder({ width: 640, height: 360, fps: 7, format: 'mp4', outPath });
    await encoder.write(frames, 20);
    // 13.8 MB went through a pipe that holds at most 1 MiB: ffmpeg has read the rest already.
    const [pid] = childPids();
    const rchar = Number(/rchar: (\d+)/.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]);
    expect(rchar).toBeGreaterThan(frames.length - 1024 * 1024);
    const r = await encoder.finish();
    expect((await ffprobe(r.path)).nb_frames).toBe(20);
  });

  it('refuses to finish a video with no frames', async () => {
    const outPath = path.join(dir, 'empty.mp4');
    const encoder = openVideoEncoder({ width: 64, height: 64, fps: 7, format: 'mp4', outPath });
    const err = await rejection(encoder.finish());
    expect(err).toBeInstanceOf(VideoError);
    expect((err as Error).message).toMatch(/no frames/);
    expect(existsSync(outPath)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('cancellation', () => {
  it('an abort mid-encode kills ffmpeg, rejects with CanceledError and leaves no file', async () => {
    const outPath = path.join(dir, 'aborted.mp4');
    const controller = new AbortController();
    const encoder = openVideoEncoder({
      width: 128,
      height: 64,
      fps: 7,
      format: 'mp4',
      outPath,
      signal: controller.signal,
    });
    await encoder.write(greyFrames(3, 128, 64), 3);
    // ffmpeg is running, waiting for more frames, in our own process group (not detached).
    const running = childPids();
    expect(running.length).toBeGreaterThan(0);
    for (const pid of running) expect(processGroup(pid)).toBe(processGroup(process.pid));
    controller.abort();
    await expect(encoder.finish()).rejects.toBeInstanceOf(CanceledError);
    await expect(encoder.write(greyFrames(1, 128, 64), 1)).rejects.toBeInstanceOf(CanceledError);
    await encoder.abort();
    expect(childPids()).toEqual([]);
    expect(existsSync(outPath)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('an abort before ffmpeg has started still cancels, with no file', async () => {
    const outPath = path.join(dir, 'early-abort.mp4');
    const controller = new AbortController();
    const job = encodeVideo({
      frames: greyFrames(9, 128, 64),
      numFrames: 9,
      width: 128,
      height: 64,
      fps: 7,
      format: 'mp4',
      outPath,
      signal: controller.signal,
    });
    controller.abort();
    await expect(job).rejects.toBeInstanceOf(CanceledError);
    expect(childPids()).toEqual([]);
    expect(existsSync(outPath)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });

  it('an already-aborted signal is refused at once', async () => {
    const outPath = path.join(dir, 'pre-aborted.gif');
    const job = encodeVideo({
      frames: greyFrames(2, 64, 64),
      numFrames: 2,
      width: 64,
      height: 64,
      fps: 7,
      format: 'gif',
      outPath,
      signal: AbortSignal.abort(),
    });
    await expect(job).rejects.toBeInstanceOf(CanceledError);
    expect(existsSync(outPath)).toBe(false);
  });
});

describe('process exit', () => {
  it('kills a running ffmpeg and removes its partial file when Node exits', async () => {
    const scriptPath = path.join(dir, 'exit-mid-encode.ts');
    const video = new URL('../../engine/src/video.ts', import.meta.url).href;
    writeFileSync(
      scriptPath,
      [
        `import { readdirSync, readFileSync } from 'node:fs';`,
        `import { openVideoEncoder } from ${JSON.stringify(video)};`,
        `const enc = openVideoEncoder({ width: 64, height: 64, fps: 7, format: 'mp4', outPath: ${JSON.stringify(path.join(dir, 'exit.mp4'))} });`,
        `await enc.write(new Uint8Array(3 * 64 * 64 * 3), 3);`,
        `const t = '/proc/' + process.pid + '/task';`,
        `const pids = readdirSync(t).flatMap((x) => readFileSync(t + '/' + x + '/children', 'utf8').split(' ').filter(Boolean));`,
        `console.log(JSON.stringify(pids));`,
        `process.exit(0);`,
      ].join('\n'),
    );
    const { stdout } = await execFileAsync(process.execPath, [scriptPath]);
    const pids = JSON.parse(stdout) as string[];
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.every((pid) => /^\d+$/.test(pid))).toBe(true);
    // Without the exit hook, ffmpeg would read EOF, finish the file and leave it behind.
    for (let i = 0; i < 50 && pids.some(isAlive); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(pids.filter(isAlive)).toEqual([]);
    expect(leftovers(dir)).toEqual([]);
    expect(existsSync(path.join(dir, 'exit.mp4'))).toBe(false);
  });
});

describe('FFMPEG_PATH', () => {
  it('set to the @ffmpeg-installer binary, that binary writes a valid mp4', async () => {
    // An explicit ffmpegPath picks Debian's ffmpeg: its muxer tag is what the package's must differ from.
    const systemOut = path.join(dir, 'system-ffmpeg.mp4');
    await encodeVideo({
      frames: greyFrames(2, 64, 64),
      numFrames: 2,
      width: 64,
      height: 64,
      fps: 7,
      format: 'mp4',
      outPath: systemOut,
      ffmpegPath: '/usr/bin/ffmpeg',
    });
    const systemMuxer = (await ffprobe(systemOut)).encoder;
    expect(systemMuxer).toMatch(/^Lavf\d+\./);
    const saved = process.env['FFMPEG_PATH'];
    process.env['FFMPEG_PATH'] = packageFfmpeg;
    try {
      expect(resolveFfmpeg()).toEqual({ path: packageFfmpeg, source: 'FFMPEG_PATH' });
      const outPath = path.join(dir, 'package-ffmpeg.mp4');
      await encodeVideo({
        frames: greyFrames(9, 128, 64),
        numFrames: 9,
        width: 128,
        height: 64,
        fps: 7,
        format: 'mp4',
        outPath,
      });
      const p = await ffprobe(outPath);
      expect(p).toMatchObject({
        codec: 'h264',
        pix_fmt: 'yuv420p',
        width: 128,
        height: 64,
        nb_frames: 9,
        fps: 7,
      });
      const boxes = topLevelBoxes(outPath);
      expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
      // The package's ffmpeg 4.x muxer (Lavf58) wrote it, not Debian's ffmpeg 5.x (Lavf59).
      expect(p.encoder).toMatch(/^Lavf58\./);
      expect(systemMuxer).not.toBe(p.encoder);
    } finally {
      if (saved === undefined) delete process.env['FFMPEG_PATH'];
      else process.env['FFMPEG_PATH'] = saved;
    }
  });
});
