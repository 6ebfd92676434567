/**
 * Runs one fluent-ffmpeg command as a plain child (same process group, never detached), mapping its
 * events to promises and its failures to VideoError / CanceledError. Children are SIGKILLed on
 * kill() and when this process exits; their partial output files are removed then too.
 */
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type ffmpeg from 'fluent-ffmpeg';
import { CanceledError, VideoError } from './errors.ts';

const STDERR_TAIL_LINES = 8;

/**
 * GIF filter chain: one palette for the whole clip, built from every other pixel (palettegen slows
 * down badly with hundreds of thousands of distinct colours; a 2× subsample keeps the colours and
 * cuts that cost several times), ordered (Bayer) dithering so still areas don't shimmer from frame
 * to frame, and only the changed rectangle re-dithered per frame.
 */
export const GIF_PALETTE_GRAPH =
  'split[a][b];[a]scale=trunc((iw+1)/2):trunc((ih+1)/2):flags=neighbor,palettegen=stats_mode=full[p];' +
  '[b][p]paletteuse=dither=bayer:bayer_scale=5:diff_mode=rectangle';
export const QUIET = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error'];

/** Running ffmpeg children and the partial file each writes. */
const liveChildren = new Map<ChildProcess, string>();
let exitHookInstalled = false;

function killAllOnExit(): void {
  for (const [child, partial] of liveChildren) {
    child.kill('SIGKILL');
    rmSync(partial, { force: true });
  }
}

function trackChild(child: ChildProcess, partial: string): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllOnExit);
  }
  liveChildren.set(child, partial);
  child.once('exit', () => liveChildren.delete(child));
}

function stderrTail(stderr: string | null | undefined): string {
  if (!stderr) return '';
  return stderr
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(-STDERR_TAIL_LINES)
    .join('\n');
}

function describeFailure(err: Error, stderr: string | null | undefined): VideoError {
  const head = /^(ffmpeg (?:exited with code \d+|was killed with signal \w+))/.exec(err.message)?.[1];
  const tail = stderrTail(stderr);
  const first = head ?? err.message.split('\n')[0];
  return new VideoError(`ffmpeg failed: ${first}${tail ? `\n${tail}` : ''}`, { cause: err });
}

export interface Run {
  /** The spawned ffmpeg; rejects if it never started. */
  readonly started: Promise<ChildProcess>;
  /** Settles when ffmpeg has exited: CanceledError after kill(), VideoError on failure. */
  readonly done: Promise<void>;
  kill(): void;
}

/** Runs a fluent-ffmpeg command with `binary` that writes `partial`, mapping its events to promises. */
export function launch(command: ffmpeg.FfmpegCommand, binary: string, partial: string): Run {
  let child: ChildProcess | undefined;
  let killed = false;
  let resolveStarted!: (c: ChildProcess) => void;
  let rejectStarted!: (e: Error) => void;
  const started = new Promise<ChildProcess>((resolve, reject) => {
    resolveStarted = resolve;
    rejectStarted = reject;
  });
  const done = new Promise<void>((resolve, reject) => {
    command.on('start', () => {
      child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc;
      if (!child) {
        rejectStarted(new VideoError('ffmpeg started without a process handle'));
        return;
      }
      trackChild(child, partial);
      // Writes to a dead ffmpeg fail through their callbacks; keep the stream error from being unhandled.
      child.stdin?.on('error', () => {});
      if (killed) child.kill('SIGKILL');
      resolveStarted(child);
    });
    command.on('end', () => resolve());
    command.on('error', (err, _stdout, stderr) => {
      const mapped = killed ? new CanceledError() : describeFailure(err, stderr);
      rejectStarted(mapped);
      reject(mapped);
    });
  });
  // Errors surface through whoever awaits these; never as unhandled rejections.
  started.catch(() => {});
  done.catch(() => {});
  // fluent-ffmpeg keeps the binary path process-wide; set it right before this command runs.
  command.setFfmpegPath(binary);
  command.run();
  return {
    started,
    done,
    kill() {
      killed = true;
      child?.kill('SIGKILL');
    },
  };
}

/** A hidden temporary name beside outPath; renamed into place only when ffmpeg succeeded. */
export function partialPath(outPath: string): string {
  const dir = path.dirname(outPath);
  return path.join(dir, `.${path.basename(outPath)}.${process.pid}.${randomUUID().slice(0, 8)}.partial`);
}
