/** Raw little-endian float32 tensor files (`*.f32`), as the fixtures store them. */
import { existsSync, readFileSync } from 'node:fs';

/** Reads a `.f32` file, or returns null when it does not exist. Copies out of Node's pooled buffer. */
export function readF32(file: string): Float32Array | null {
  if (!existsSync(file)) return null;
  const buf = readFileSync(file);
  if (buf.byteLength % 4 !== 0) throw new Error(`${file}: size ${buf.byteLength} is not a multiple of 4`);
  const out = new Float32Array(buf.byteLength / 4);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

export interface ErrorStats {
  readonly max_abs_err: number;
  readonly mean_abs_err: number;
}

/** Max and mean absolute difference; throws if the lengths differ. */
export function compare(actual: Float32Array, expected: Float32Array, what: string): ErrorStats {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: ${actual.length} values, but the reference has ${expected.length}`);
  }
  let max = 0;
  let sum = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (d > max || Number.isNaN(d)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
    sum += d;
  }
  return { max_abs_err: max, mean_abs_err: sum / actual.length };
}
