/**
 * A smaller re-encode of an MP4 or GIF result, for chat upload limits (Discord: the interaction's
 * attachment_size_limit, 10 MiB by default).
 */
import { copyFile, open, rename, rm, stat } from 'node:fs/promises';
import ffmpeg from 'fluent-ffmpeg';
import { CanceledError, VideoError } from './errors.ts';
import { resolveFfmpeg } from './ffmpeg-path.ts';
import { GIF_PALETTE_GRAPH, launch, partialPath, QUIET } from './ffmpeg-run.ts';
import { type Mp4Info, readMp4Info } from './mp4-info.ts';
import type { VideoResult } from './video.ts';

export interface ReencodeOptions {
  readonly signal?: AbortSignal;
  readonly ffmpegPath?: string;
}

export interface ReencodeResult extends VideoResult {
  readonly width: number;
  readonly height: number;
}

/** Bytes kept back from the budget for the container (moov, headers). */
const CONTAINER_RESERVE = 4096;
const SCALE_STEP = 0.75;
const MIN_SIDE = 32;
const MAX_TRIES = 8;
/**
 * MP4 tries before the picture gets smaller. x264 lands a re-aimed bitrate within about ±20% on
 * noisy content, so the second try still overshoots about once in 50; a third rarely does.
 */
const TRIES_AT_FIRST_SIZE = 3;
/** Below this many bits per pixel per frame H.264 turns to mush: a smaller picture looks better. */
const MIN_BITS_PER_PIXEL = 0.05;

async function runToFile(
  input: string,
  outPath: string,
  outOptions: string[],
  binary: string,
  signal: AbortSignal | undefined,
): Promise<number> {
  if (signal?.aborted) throw new CanceledError();
  const tmpPath = partialPath(outPath);
  const command = ffmpeg({ stdoutLines: 40 })
    .input(input)
    .inputOptions(QUIET)
    .output(tmpPath)
    .outputOptions(outOptions);
  const run = launch(command, binary, tmpPath);
  const onAbort = () => run.kill();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await run.done;
    await rename(tmpPath, outPath);
    return (await stat(outPath)).size;
  } catch (err) {
    await rm(tmpPath, { force: true });
    throw err;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

function evenSide(side: number, scale: number): number {
  return Math.max(2, Math.round((side * scale) / 2) * 2);
}

/** Width and height from a GIF's logical screen descriptor, or undefined if it is not a GIF. */
async function readGifSize(file: string): Promise<{ width: number; height: number } | undefined> {
  const handle = await open(file, 'r');
  try {
    const header = Buffer.alloc(10);
    const { bytesRead } = await handle.read(header, 0, 10, 0);
    if (bytesRead < 10 || header.toString('latin1', 0, 4) !== 'GIF8') return undefined;
    return { width: header.readUInt16LE(6), height: header.readUInt16LE(8) };
  } finally {
    await handle.close();
  }
}

interface Job {
  readonly inPath: string;
  readonly outPath: string;
  readonly inBytes: number;
  readonly maxBytes: number;
  readonly binary: string;
  readonly signal: AbortSignal | undefined;
}

async function fail(job: Job, lastBytes: number): Promise<never> {
  await rm(job.outPath, { force: true });
  throw new VideoError(
    `cannot re-encode ${job.inPath} under ${job.maxBytes} bytes (smallest try: ${lastBytes} bytes)`,
  );
}

/** H.264: a bitrate from the budget, three tries at one size, then smaller sizes. */
async function smallerMp4(job: Job, info: Mp4Info): Promise<ReencodeResult> {
  const fps = info.frames / info.durationS;
  let kbps = Math.max(8, Math.floor(((job.maxBytes - CONTAINER_RESERVE) * 8 * 0.95) / info.durationS / 1000));
  const bitsPerPixel = (scale: number) =>
    (kbps * 1000) / (evenSide(info.width, scale) * evenSide(info.height, scale) * fps);

  let scale = 1;
  while (
    bitsPerPixel(scale) < MIN_BITS_PER_PIXEL &&
    Math.min(info.width, info.height) * scale * SCALE_STEP >= MIN_SIDE
  ) {
    scale *= SCALE_STEP;
  }
  return firstThatFits(
    job,
    (attempt) => {
      if (attempt >= TRIES_AT_FIRST_SIZE) scale *= SCALE_STEP;
      const width = evenSide(info.width, scale);
      const height = evenSide(info.height, scale);
      const args = [
        '-an',
        '-vf',
        `scale=${width}:${height}:flags=lanczos,format=yuv420p`,
        '-c:v',
        'libx264',
        '-preset',
        'medium',
        '-b:v',
        `${kbps}k`,
        '-maxrate',
        `${kbps}k`,
        '-bufsize',
        `${Math.max(8, Math.floor(kbps / 2))}k`,
        '-pix_fmt',
        'yuv420p',
        '-movflags',
        '+faststart',
        '-f',
        'mp4',
      ];
      return { width, height, args };
    },
    (bytes) => {
      kbps = Math.max(8, Math.floor(kbps * (job.maxBytes / bytes) * 0.9));
    },
  );
}

/** GIF: its size goes with the pixel count, so shrink by the square root of the overshoot. */
async function smallerGif(job: Job, size: { width: number; height: number }): Promise<ReencodeResult> {
  let scale = Math.min(1, Math.sqrt(job.maxBytes / job.inBytes) * 0.9);
  return firstThatFits(
    job,
    () => {
      const width = Math.max(1, Math.round(size.width * scale));
      const height = Math.max(1, Math.round(size.height * scale));
      const filters = `scale=${width}:${height}:flags=lanczos,${GIF_PALETTE_GRAPH}`;
      return { width, height, args: ['-an', '-vf', filters, '-loop', '0', '-f', 'gif'] };
    },
    (bytes) => {
      scale *= Math.min(SCALE_STEP, Math.sqrt(job.maxBytes / bytes) * 0.9);
    },
  );
}

/**
 * Up to MAX_TRIES encodes, each at the size and with the ffmpeg arguments `attempt` gives, until
 * one fits in maxBytes; `overshot` learns each too-large size before the next try. Fails naming
 * the last size when none fits or the picture would get smaller than MIN_SIDE.
 */
async function firstThatFits(
  job: Job,
  attempt: (index: number) => { width: number; height: number; args: string[] },
  overshot: (bytes: number) => void,
): Promise<ReencodeResult> {
  let lastBytes = job.inBytes;
  for (let i = 0; i < MAX_TRIES; i++) {
    const { width, height, args } = attempt(i);
    if (Math.min(width, height) < MIN_SIDE) break;
    const bytes = await runToFile(job.inPath, job.outPath, args, job.binary, job.signal);
    if (bytes <= job.maxBytes) return { path: job.outPath, bytes, width, height };
    lastBytes = bytes;
    overshot(bytes);
  }
  return fail(job, lastBytes);
}

/**
 * Re-encodes an MP4 or a GIF so it fits in maxBytes (an upload limit). A file already under the
 * limit is copied as it is.
 *
 * MP4: the bitrate comes from the duration and the budget; the picture is made smaller up front
 * only where that bitrate would be too thin for its size. Three tries at that size (each aimed by how
 * far the one before overshot), then smaller sizes.
 * GIF: smaller sizes until it fits.
 */
export async function reencodeSmaller(
  inPath: string,
  outPath: string,
  maxBytes: number,
  options: ReencodeOptions = {},
): Promise<ReencodeResult> {
  if (!Number.isFinite(maxBytes) || maxBytes <= CONTAINER_RESERVE) {
    throw new VideoError(`maxBytes must be more than ${CONTAINER_RESERVE}, got ${maxBytes}`);
  }
  let inBytes: number;
  let gif: { width: number; height: number } | undefined;
  try {
    inBytes = (await stat(inPath)).size;
    gif = await readGifSize(inPath);
  } catch (err) {
    throw new VideoError(`cannot read ${inPath}: ${(err as Error).message}`, { cause: err });
  }
  const size = gif ?? (await readMp4Info(inPath));
  if (inBytes <= maxBytes) {
    await copyFile(inPath, outPath);
    return { path: outPath, bytes: inBytes, width: size.width, height: size.height };
  }
  const job: Job = {
    inPath,
    outPath,
    inBytes,
    maxBytes,
    binary: options.ffmpegPath ?? resolveFfmpeg().path,
    signal: options.signal,
  };
  return 'durationS' in size ? smallerMp4(job, size) : smallerGif(job, size);
}
