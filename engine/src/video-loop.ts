/**
 * `loop` on decoded frames, between the pipeline and ffmpeg: a {@link VideoEncoder} that passes
 * frames on as they come and writes what the loop adds at finish(). See playback.ts for the frame
 * arithmetic. It holds copies only of the frames it writes again: n − 2 for a boomerang, k for a
 * fade, and the lead-out.
 *
 * Lead-out, for `smooth`: minterpolate needs one frame past the last interval it fills and never
 * emits the interval into the last frame it is given. So a plain clip gets its last frame once more
 * (the interpolation ends exactly on it), and a loop gets its first two frames once more (the wrap
 * back to frame 0 is interpolated too). The encoder cuts the output to the frame count in playback.ts.
 */
import { VideoError } from './errors.ts';
import type { LoopMode } from './options.ts';
import { fadeLength } from './playback.ts';
import type { VideoEncoder } from './video.ts';

export interface LoopOptions {
  readonly loop: LoopMode;
  /** Frames that will be written; a loop needs to know where the clip ends (unused when off). */
  readonly sourceFrames: number;
  readonly frameBytes: number;
  /** Write the lead-out that interpolation needs (see above). */
  readonly leadOut: boolean;
}

/** Frame `tail` cross-faded towards `head` with weight w on head. */
function blend(tail: Uint8Array, head: Uint8Array, w: number): Uint8Array {
  const out = new Uint8Array(tail.length);
  for (let i = 0; i < tail.length; i++) out[i] = Math.round((1 - w) * tail[i]! + w * head[i]!);
  return out;
}

/**
 * Wraps `inner` so that what it encodes is the clip made into a loop, plus the lead-out; with
 * neither it returns `inner` itself.
 */
export function loopEncoder(inner: VideoEncoder, o: LoopOptions): VideoEncoder {
  if (o.loop === 'off' && !o.leadOut) return inner;
  const n = o.sourceFrames;
  const k = o.loop === 'fade' ? fadeLength(n) : 0;
  /** Source frames written again: boomerang 1…n−2 (the way back), fade 0…k−1 (the cross-fade). */
  const kept = new Map<number, Uint8Array>();
  /** The first two frames written, and the last: the lead-out of a loop and of a plain clip. */
  const head: Uint8Array[] = [];
  let last: Uint8Array | undefined;
  let index = 0;

  function take(i: number, frame: Uint8Array): Uint8Array | undefined {
    if (o.loop === 'off') return frame;
    if (o.loop === 'boomerang') {
      if (i >= 1 && i <= n - 2) kept.set(i, frame.slice());
      return frame;
    }
    if (i < k) {
      kept.set(i, frame.slice());
      return undefined;
    }
    if (i < n - k) return frame;
    const j = i - (n - k);
    return blend(frame, kept.get(j)!, (j + 1) / (k + 1));
  }

  async function writeAll(frames: readonly Uint8Array[]): Promise<void> {
    if (frames.length === 0) return;
    if (o.leadOut) {
      for (const f of frames) if (head.length < 2) head.push(f.slice());
      last = frames.at(-1)!.slice();
    }
    await inner.write(Buffer.concat(frames), frames.length);
  }

  return {
    async write(frames, count) {
      if (!Number.isInteger(count) || count < 1 || frames.length !== count * o.frameBytes) {
        throw new VideoError(
          `expected ${count} frames of ${o.frameBytes} bytes (${count * o.frameBytes}), got ${frames.length} bytes`,
        );
      }
      if (o.loop !== 'off' && index + count > n)
        throw new VideoError(`the loop expects ${n} frames, got more`);
      const out: Uint8Array[] = [];
      for (let t = 0; t < count; t++) {
        const frame = take(index + t, frames.subarray(t * o.frameBytes, (t + 1) * o.frameBytes));
        if (frame) out.push(frame);
      }
      index += count;
      await writeAll(out);
    },

    async finish() {
      if (o.loop !== 'off' && index !== n) {
        await inner.abort();
        throw new VideoError(`the loop expects ${n} frames, got ${index}`);
      }
      const tail: Uint8Array[] = [];
      if (o.loop === 'boomerang') for (let i = n - 2; i >= 1; i--) tail.push(kept.get(i)!);
      kept.clear();
      await writeAll(tail);
      if (o.leadOut) {
        const leadOut = o.loop === 'off' ? [last!] : head;
        await inner.write(Buffer.concat(leadOut), leadOut.length);
      }
      return inner.finish();
    },

    abort: () => inner.abort(),
  };
}
