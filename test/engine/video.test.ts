import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CanceledError, VideoError } from '../../engine/src/errors.ts';
import { resolveFfmpeg } from '../../engine/src/ffmpeg-path.ts';
import { readMp4Info } from '../../engine/src/mp4-info.ts';
import { encodeVideo, openVideoEncoder, reencodeSmaller } from '../../engine/src/video.ts';
import { ffprobe } from '../helpers/ffprobe.ts';

const execFileAsync = promisify(execFile);
const packageFfmpeg = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-video-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** numFrames frames of width×height, frame i a flat grey of level(i). */
function greyFrames(numFrames: number, width: number, height: number, level = (i: number) => 20 + 25 * i) {
  const frameBytes = width * height * 3;
  const frames = new Uint8Array(numFrames * frameBytes);
  for (let i = 0; i < numFrames; i++) frames.fill(level(i), i * frameBytes, (i + 1) * frameBytes);
  return frames;
}

/** Decodes a video with Debian's ffmpeg into per-frame mean grey levels. */
async function frameMeans(file: string, width: number, height: number): Promise<number[]> {
  const { stdout } = await execFileAsync(
    '/usr/bin/ffmpeg',
    ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'gray', '-'],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  const size = width * height;
  const means: number[] = [];
  for (let offset = 0; offset < stdout.length; offset += size) {
    let sum = 0;
    for (let i = offset; i < offset + size; i++) sum += stdout[i];
    means.push(sum / size);
  }
  return means;
}

/** Frame i of greyFrames() decodes back to grey 20+25i: each frame once, in order. */
function expectGreyRamp(means: number[], count: number): void {
  expect(means).toHaveLength(count);
  const worst = Math.max(...means.map((m, i) => Math.abs(m - (20 + 25 * i))));
  expect(worst).toBeLessThan(3);
}

/** Types of the top-level boxes of an MP4, in file order. */
function topLevelBoxes(file: string): string[] {
  const buf = readFileSync(file);
  const types: string[] = [];
  for (let offset = 0; offset + 8 <= buf.length; ) {
    let size = buf.readUInt32BE(offset);
    if (size === 1) size = Number(buf.readBigUInt64BE(offset + 8));
    if (size === 0) size = buf.length - offset;
    types.push(buf.toString('latin1', offset + 4, offset + 8));
    offset += size;
  }
  return types;
}

/** Pids of this process's live children. */
function childPids(): string[] {
  const tasks = `/proc/${process.pid}/task`;
  return readdirSync(tasks).flatMap((t) =>
    readFileSync(`${tasks}/${t}/children`, 'utf8').split(/\s+/).filter(Boolean),
  );
}

/** The process group of a pid, from /proc/<pid>/stat (the field after the state). */
function processGroup(pid: string | number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2];
}

/** Running, not gone and not a zombie waiting for an orphan reaper. */
function isAlive(pid: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function leftovers(): string[] {
  return readdirSync(dir).filter((f) => f.includes('.partial'));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

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
    expect(leftovers()).toEqual([]);
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
    expect(leftovers()).toEqual([]);
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
    expect(leftovers()).toEqual([]);
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
    expect(leftovers()).toEqual([]);
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
    expect(leftovers()).toEqual([]);
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

describe('reencodeSmaller', () => {
  const noisy = () => path.join(dir, 'noisy.mp4');
  beforeAll(async () => {
    const frames = new Uint8Array(14 * 360 * 640 * 3);
    randomFillSync(frames);
    await encodeVideo({
      frames,
      numFrames: 14,
      width: 640,
      height: 360,
      fps: 7,
      format: 'mp4',
      outPath: noisy(),
    });
  });

  it('brings a noisy 640×360 clip under the limit, keeping its size, frames and fps', async () => {
    const inBytes = readFileSync(noisy()).length;
    const limit = 250_000;
    expect(inBytes).toBeGreaterThan(4 * limit);
    const r = await reencodeSmaller(noisy(), path.join(dir, 'small.mp4'), limit);
    expect(r.bytes).toBeLessThanOrEqual(limit);
    expect(r.bytes).toBe(readFileSync(r.path).length);
    expect(r.bytes).toBeGreaterThan(limit / 2); // the budget is used, not thrown away
    const p = await ffprobe(r.path);
    expect(p).toMatchObject({
      codec: 'h264',
      pix_fmt: 'yuv420p',
      width: 640,
      height: 360,
      nb_frames: 14,
      fps: 7,
    });
    const boxes = topLevelBoxes(r.path);
    expect(boxes.indexOf('moov')).toBeLessThan(boxes.indexOf('mdat'));
  });

  it('makes the picture smaller where the budget is too thin for its size', async () => {
    const limit = 20_000;
    const r = await reencodeSmaller(noisy(), path.join(dir, 'tiny.mp4'), limit);
    expect(r.bytes).toBeLessThanOrEqual(limit);
    const p = await ffprobe(r.path);
    expect(p.width).toBeLessThan(640);
    expect(p.width % 2).toBe(0);
    expect(p.height % 2).toBe(0);
    expect(p.width / p.height).toBeCloseTo(640 / 360, 1);
    expect({ width: r.width, height: r.height }).toEqual({ width: p.width, height: p.height });
    expect(p.nb_frames).toBe(14);
  });

  it('aims a second try when a short clip overshoots the first', async () => {
    // Two noisy frames: x264's first I-frame overshoots a one-pass bitrate by far.
    const src = path.join(dir, 'two.mp4');
    const frames = new Uint8Array(2 * 360 * 640 * 3);
    randomFillSync(frames);
    await encodeVideo({ frames, numFrames: 2, width: 640, height: 360, fps: 7, format: 'mp4', outPath: src });
    const limit = 40_000;
    const r = await reencodeSmaller(src, path.join(dir, 'two-small.mp4'), limit);
    expect(r.bytes).toBeLessThanOrEqual(limit);
    expect((await ffprobe(r.path)).width).toBe(640);
  });

  it('shrinks a GIF over the limit into a smaller GIF with every frame', async () => {
    const src = path.join(dir, 'noisy.gif');
    const frames = new Uint8Array(6 * 136 * 240 * 3);
    randomFillSync(frames);
    await encodeVideo({ frames, numFrames: 6, width: 240, height: 136, fps: 7, format: 'gif', outPath: src });
    const inBytes = readFileSync(src).length;
    const limit = Math.floor(inBytes / 3);
    const r = await reencodeSmaller(src, path.join(dir, 'noisy-small.gif'), limit);
    expect(r.bytes).toBeLessThanOrEqual(limit);
    expect(readFileSync(r.path).subarray(0, 6).toString('latin1')).toBe('GIF89a');
    const p = await ffprobe(r.path);
    expect(p).toMatchObject({ codec: 'gif', nb_frames: 6, width: r.width, height: r.height });
    expect(p.width).toBeLessThan(240);
    expect(p.width / p.height).toBeCloseTo(240 / 136, 1);
  });

  it('copies a file that already fits', async () => {
    const src = path.join(dir, 'fits.mp4');
    await encodeVideo({
      frames: greyFrames(3, 128, 64),
      numFrames: 3,
      width: 128,
      height: 64,
      fps: 7,
      format: 'mp4',
      outPath: src,
    });
    const r = await reencodeSmaller(src, path.join(dir, 'copy.mp4'), 10 * 1024 * 1024);
    expect(readFileSync(r.path).equals(readFileSync(src))).toBe(true);
    expect(r).toMatchObject({ width: 128, height: 64 });
  });

  it('cancels through its signal and leaves no file', async () => {
    const out = path.join(dir, 'canceled-small.mp4');
    const controller = new AbortController();
    const job = reencodeSmaller(noisy(), out, 100_000, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    await expect(job).rejects.toBeInstanceOf(CanceledError);
    expect(existsSync(out)).toBe(false);
    expect(leftovers()).toEqual([]);
    expect(childPids()).toEqual([]);
  });

  it('reports a missing input as a VideoError', async () => {
    await expect(
      reencodeSmaller(path.join(dir, 'nope.mp4'), path.join(dir, 'o.mp4'), 100_000),
    ).rejects.toBeInstanceOf(VideoError);
  });
});

describe('readMp4Info', () => {
  it('reads duration, size and frame count, with moov first or last', async () => {
    const faststart = path.join(dir, 'info.mp4');
    await encodeVideo({
      frames: greyFrames(9, 128, 64),
      numFrames: 9,
      width: 128,
      height: 64,
      fps: 7,
      format: 'mp4',
      outPath: faststart,
    });
    expect(await readMp4Info(faststart)).toMatchObject({ width: 128, height: 64, frames: 9 });
    expect((await readMp4Info(faststart)).durationS).toBeCloseTo(9 / 7, 2);
    const moovLast = path.join(dir, 'moov-last.mp4');
    await execFileAsync('/usr/bin/ffmpeg', ['-v', 'error', '-i', faststart, '-c', 'copy', '-y', moovLast]);
    const boxes = topLevelBoxes(moovLast);
    expect(boxes.indexOf('moov')).toBeGreaterThan(boxes.indexOf('mdat'));
    expect(await readMp4Info(moovLast)).toMatchObject({ width: 128, height: 64, frames: 9 });
  });

  it('refuses a file that is not an MP4, and reencodeSmaller says so too', async () => {
    const png = new URL('../fixtures/case_public/input.png', import.meta.url).pathname;
    await expect(readMp4Info(png)).rejects.toThrow(/not an MP4/);
    await expect(reencodeSmaller(png, path.join(dir, 'png-out.mp4'), 5000)).rejects.toBeInstanceOf(
      VideoError,
    );
  });
});
