/**
 * Video output through fluent-ffmpeg: raw RGB frames piped to libx264 (MP4) or a palette GIF. The
 * smaller re-encode for upload limits is video-reencode.ts (re-exported here); ffmpeg-run.ts starts
 * and tracks both kinds of ffmpeg child, and ffmpeg-path.ts finds the binary and probes it.
 *
 * ffmpeg runs as a plain child (same process group, never detached), so a kill of the group takes it
 * down; it is also SIGKILLed on abort and when this process exits.
 */
import { rename, rm, stat } from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import { CanceledError, VideoError } from './errors.ts';
import { resolveFfmpeg } from './ffmpeg-path.ts';
import { GIF_PALETTE_GRAPH, launch, partialPath, QUIET, type Run } from './ffmpeg-run.ts';
import { LOOP_MODES, type LoopMode, type VideoFormat } from './options.ts';
import { loopedFrames, minterpolateFilter, smoothedFrames } from './playback.ts';
import { loopEncoder } from './video-loop.ts';

export { type ReencodeOptions, type ReencodeResult, reencodeSmaller } from './video-reencode.ts';

export interface VideoResult {
  readonly path: string;
  readonly bytes: number;
}

export interface VideoEncoderOptions {
  readonly width: number;
  readonly height: number;
  /** Frames per second of the written frames; the video plays at fps × smooth. */
  readonly fps: number;
  readonly format: VideoFormat;
  /** Make the written frames into a loop (see playback.ts); needs sourceFrames. Default off. */
  readonly loop?: LoopMode;
  /** How many frames will be written; required with a loop. */
  readonly sourceFrames?: number;
  /**
   * Interpolate to fps × smooth with ffmpeg's minterpolate (motion-compensated). Default 1: every
   * written frame is one output frame, none duplicated or dropped.
   */
  readonly smooth?: number;
  readonly outPath: string;
  readonly signal?: AbortSignal;
  /** The ffmpeg binary; default `resolveFfmpeg()` (FFMPEG_PATH, system, package). */
  readonly ffmpegPath?: string;
}

export interface EncodeVideoOptions extends VideoEncoderOptions {
  /** numFrames × height × width × 3 bytes, RGB, row-major. */
  readonly frames: Uint8Array;
  readonly numFrames: number;
}

export interface VideoEncoder {
  /** Writes `count` frames (count × H × W × 3 bytes). Resolves once ffmpeg has taken them: the buffer may be reused. */
  write(frames: Uint8Array, count: number): Promise<void>;
  /** Closes the input, waits for ffmpeg and moves the file into place. */
  finish(): Promise<VideoResult>;
  /** Kills ffmpeg and removes the partial file. Pending and later calls reject with CanceledError. */
  abort(): Promise<void>;
}

// ---- frames to video -----------------------------------------------------------------------

function checkEncoderOptions(o: VideoEncoderOptions): void {
  for (const [name, value] of [
    ['width', o.width],
    ['height', o.height],
  ] as const) {
    if (!Number.isInteger(value) || value < 2 || value > 16384) {
      throw new VideoError(`video ${name} must be an integer in 2–16384, got ${value}`);
    }
  }
  if (!Number.isFinite(o.fps) || o.fps <= 0 || o.fps > 240) {
    throw new VideoError(`video fps must be a number in (0, 240], got ${o.fps}`);
  }
  if (o.format !== 'mp4' && o.format !== 'gif') {
    throw new VideoError(`video format must be mp4 or gif, got ${String(o.format)}`);
  }
  const smooth = o.smooth ?? 1;
  if (!Number.isInteger(smooth) || smooth < 1 || o.fps * smooth > 240) {
    throw new VideoError(`video smooth must be a whole factor ≥ 1 with fps × smooth ≤ 240, got ${smooth}`);
  }
  const loop = o.loop ?? 'off';
  if (!LOOP_MODES.includes(loop)) throw new VideoError(`video loop must be one of ${LOOP_MODES.join('|')}`);
  if (loop !== 'off' && !(Number.isInteger(o.sourceFrames) && o.sourceFrames! >= 2)) {
    throw new VideoError(`a ${loop} loop needs sourceFrames ≥ 2, got ${o.sourceFrames}`);
  }
}

/** The output rate, and the filter that makes it, when smoothing. */
function smoothing(o: VideoEncoderOptions): { rate: string; filters: string[]; frames: string[] } {
  const smooth = o.smooth ?? 1;
  if (smooth === 1) return { rate: String(o.fps), filters: [], frames: [] };
  const loop = o.loop ?? 'off';
  // The lead-out frames (video-loop.ts) are cut here: exactly the frames playback.ts counts.
  const count =
    loop === 'off'
      ? smoothedFrames(o.sourceFrames ?? 0, smooth, false)
      : smoothedFrames(loopedFrames(loop, o.sourceFrames!), smooth, true);
  const frames = count > 0 ? ['-frames:v', String(count)] : [];
  return { rate: String(o.fps * smooth), filters: [minterpolateFilter(o.fps * smooth)], frames };
}

function outputOptions(o: VideoEncoderOptions): string[] {
  const smooth = smoothing(o);
  const rate = smooth.rate;
  if (o.format === 'gif') {
    const graph = [...smooth.filters, GIF_PALETTE_GRAPH].join(',');
    return ['-an', '-vf', graph, '-r', rate, ...smooth.frames, '-loop', '0', '-f', 'gif'];
  }
  const evenW = o.width + (o.width % 2);
  const evenH = o.height + (o.height % 2);
  const filters: string[] = [...smooth.filters];
  if (evenW !== o.width || evenH !== o.height) {
    // yuv420p needs even sides: add one column/row that repeats the edge pixels.
    filters.push(
      `pad=${evenW}:${evenH}:0:0`,
      `fillborders=right=${evenW - o.width}:bottom=${evenH - o.height}:mode=smear`,
    );
  }
  filters.push('format=yuv420p');
  return [
    '-an',
    '-vf',
    filters.join(','),
    '-c:v',
    'libx264',
    '-preset',
    'medium',
    '-crf',
    '18',
    '-pix_fmt',
    'yuv420p',
    // Output rate = input rate × smooth: without smoothing, one output frame per input frame.
    '-r',
    rate,
    ...smooth.frames,
    '-movflags',
    '+faststart',
    '-f',
    'mp4',
  ];
}

/**
 * Starts ffmpeg for a video of `width`×`height` at `fps`; frames are streamed in with write(), so
 * encoding overlaps decoding. Throws CanceledError if the signal has already fired.
 */
export function openVideoEncoder(options: VideoEncoderOptions): VideoEncoder {
  checkEncoderOptions(options);
  if (options.signal?.aborted) throw new CanceledError();
  const binary = options.ffmpegPath ?? resolveFfmpeg().path;
  const frameBytes = options.width * options.height * 3;
  const tmpPath = partialPath(options.outPath);

  const command = ffmpeg({ stdoutLines: 40 })
    .input('pipe:0')
    .inputOptions([
      ...QUIET.filter((o) => o !== '-nostdin'),
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-video_size',
      `${options.width}x${options.height}`,
      '-framerate',
      String(options.fps),
    ])
    .output(tmpPath)
    .outputOptions(outputOptions(options));
  const run = launch(command, binary, tmpPath);
  const encoder = new RawEncoder(options, run, tmpPath, frameBytes);
  return loopEncoder(encoder, {
    loop: options.loop ?? 'off',
    sourceFrames: options.sourceFrames ?? 0,
    frameBytes,
    leadOut: (options.smooth ?? 1) > 1,
  });
}

/** The encoder over one running ffmpeg: frames in order to its stdin, the file moved into place at the end. */
class RawEncoder implements VideoEncoder {
  readonly #options: VideoEncoderOptions;
  readonly #run: Run;
  readonly #tmpPath: string;
  readonly #frameBytes: number;
  #aborted = false;
  /** finish() was called: no more writes. */
  #closing = false;
  #settled = false;
  #framesWritten = 0;
  #queue: Promise<void> = Promise.resolve();
  #cleanup: Promise<void> | undefined;
  readonly #onAbort = () => void this.abort();

  constructor(options: VideoEncoderOptions, run: Run, tmpPath: string, frameBytes: number) {
    this.#options = options;
    this.#run = run;
    this.#tmpPath = tmpPath;
    this.#frameBytes = frameBytes;
    options.signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  write(frames: Uint8Array, count: number): Promise<void> {
    if (this.#aborted) return Promise.reject(new CanceledError());
    if (this.#settled || this.#closing) return Promise.reject(new VideoError('encoder is closed'));
    const { width, height } = this.#options;
    if (!Number.isInteger(count) || count < 1 || frames.length !== count * this.#frameBytes) {
      return Promise.reject(
        new VideoError(
          `expected ${count} frames of ${width}×${height}×3 bytes (${count * this.#frameBytes}), got ${frames.length} bytes`,
        ),
      );
    }
    const chunk = Buffer.from(frames.buffer, frames.byteOffset, frames.length);
    const next = this.#queue.then(() => this.#writeNow(chunk, count));
    this.#queue = next.catch(() => {});
    return next;
  }

  async finish(): Promise<VideoResult> {
    if (this.#aborted) throw new CanceledError();
    if (this.#settled || this.#closing) throw new VideoError('encoder is closed');
    this.#closing = true;
    const { outPath } = this.#options;
    try {
      await this.#queue;
      if (this.#aborted) throw new CanceledError();
      if (this.#framesWritten === 0) throw new VideoError('no frames were written to the video');
      const child = await this.#run.started;
      child.stdin?.end();
      await this.#run.done;
      if (this.#aborted) throw new CanceledError();
      await rename(this.#tmpPath, outPath);
      this.#settled = true;
      this.#options.signal?.removeEventListener('abort', this.#onAbort);
      return { path: outPath, bytes: (await stat(outPath)).size };
    } catch (err) {
      if (!this.#aborted) this.#run.kill();
      await this.#teardown();
      throw this.#aborted ? new CanceledError() : err;
    }
  }

  abort(): Promise<void> {
    if (!this.#settled && !this.#aborted) {
      this.#aborted = true;
      this.#run.kill();
    }
    return this.#teardown();
  }

  #teardown(): Promise<void> {
    this.#settled = true;
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    const removePartial = () => rm(this.#tmpPath, { force: true });
    this.#cleanup ??= this.#run.done.then(removePartial, removePartial);
    return this.#cleanup;
  }

  /** Pipes one chunk to ffmpeg's stdin; resolves once ffmpeg has taken it. */
  async #writeNow(chunk: Buffer, count: number): Promise<void> {
    if (this.#aborted) throw new CanceledError();
    const child = await this.#run.started;
    const stdin = child.stdin;
    if (!stdin) throw new VideoError('ffmpeg has no stdin');
    const written = new Promise<void>((resolve, reject) => {
      stdin.write(chunk, (err) => (err ? reject(err) : resolve()));
    });
    const exitedEarly = this.#run.done.then(() => {
      throw new VideoError('ffmpeg exited before it read all frames');
    });
    try {
      await Promise.race([written, exitedEarly]);
    } catch (err) {
      if (this.#aborted) throw new CanceledError();
      if (err instanceof VideoError || err instanceof CanceledError) throw err;
      // A broken pipe: ffmpeg died. Its own error says why.
      await this.#run.done;
      throw new VideoError(`ffmpeg stopped reading frames: ${(err as Error).message}`, { cause: err });
    }
    this.#framesWritten += count;
  }
}

/** Encodes numFrames RGB frames into an MP4 or GIF at outPath. */
export async function encodeVideo(options: EncodeVideoOptions): Promise<VideoResult> {
  const encoder = openVideoEncoder({ sourceFrames: options.numFrames, ...options });
  try {
    await encoder.write(options.frames, options.numFrames);
    return await encoder.finish();
  } catch (err) {
    await encoder.abort();
    throw err;
  }
}
