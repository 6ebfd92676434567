/**
 * What `loop` and `smooth` make of the frames the model decoded: how many frames the video has and
 * at what rate, said the same way by the CLI and the chat. The frame work is in video-loop.ts (loop)
 * and video.ts (smooth, an ffmpeg filter).
 *
 * - `loop boomerang`: frames 0…n−1, then n−2…1 backwards: 2n − 2 frames; the wrap to frame 0 is one
 *   step, as everywhere else.
 * - `loop fade`: k = ⌊n/4⌋ (3 of 14, 6 of 25). The video starts at frame k and its last k frames are
 *   the model's last k cross-faded into its first k (frame n−k+j blended with frame j, weight
 *   (j+1)/(k+1) on frame j), so it ends next to frame k−1 and wraps to frame k without a jump: n − k frames.
 * - `smooth` m×: ffmpeg's minterpolate (motion-compensated, mci) plays at fps × m. Without a loop the
 *   n frames become (n−1)·m + 1, from the first frame to the last; a loop of n frames becomes n·m,
 *   the wrap back to its first frame interpolated too (video-loop.ts writes the lead-out this needs).
 */
import { type AnimateOptions, type LoopMode, SMOOTH_FACTORS } from './options.ts';

export type PlaybackOptions = Pick<AnimateOptions, 'frames' | 'fps' | 'loop' | 'smooth'>;

export interface Playback {
  /** Frames the model made. */
  readonly sourceFrames: number;
  /** Frames in the video. */
  readonly frames: number;
  /** The video's playback rate. */
  readonly fps: number;
  readonly loop: LoopMode;
  /** The interpolation factor, 1 for none. */
  readonly smooth: number;
}

/** Frames `loop fade` cross-fades for a clip of `frames`. */
export function fadeLength(frames: number): number {
  return Math.floor(frames / 4);
}

/** Frames after the loop step, before any interpolation. */
export function loopedFrames(loop: LoopMode, frames: number): number {
  if (loop === 'boomerang') return Math.max(frames, 2 * frames - 2);
  if (loop === 'fade') return frames - fadeLength(frames);
  return frames;
}

/** Frames after interpolating `frames` by `factor`; a loop also interpolates its wrap. */
export function smoothedFrames(frames: number, factor: number, looped: boolean): number {
  if (factor <= 1) return frames;
  return looped ? frames * factor : (frames - 1) * factor + 1;
}

/** The video these options make. Old records without loop/smooth read as off. */
export function playbackOf(o: PlaybackOptions): Playback {
  const loop: LoopMode = o.loop === 'boomerang' || o.loop === 'fade' ? o.loop : 'off';
  const smooth = SMOOTH_FACTORS[o.smooth] ?? 1;
  const looped = loopedFrames(loop, o.frames);
  return {
    sourceFrames: o.frames,
    frames: smoothedFrames(looped, smooth, loop !== 'off'),
    fps: o.fps * smooth,
    loop,
    smooth,
  };
}

/** `14 frames at 7 fps`, or `37 frames at 14 fps (26 made into a boomerang loop from 14 generated, smoothed 2×)`. */
export function describePlayback(o: PlaybackOptions): string {
  const p = playbackOf(o);
  const head = `${p.frames} frames at ${p.fps} fps`;
  const notes: string[] = [];
  if (p.loop !== 'off' || p.smooth > 1) notes.push(`${p.sourceFrames} generated`);
  if (p.loop !== 'off') notes.push(`${p.loop} loop`);
  if (p.smooth > 1) notes.push(`smoothed ${p.smooth}×`);
  return notes.length > 0 ? `${head} (${notes.join(', ')})` : head;
}

/** ffmpeg's motion-compensated interpolation to `fps`. */
export function minterpolateFilter(fps: number): string {
  return `minterpolate=fps=${fps}:mi_mode=mci`;
}
