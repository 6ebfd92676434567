/**
 * Live previews from the latents, without the VAE: the scheduler's denoised estimate x0 of every
 * frame, mapped to RGB by a linear latent→RGB map (4×3 weights + bias, fitted per model against the
 * real VAE decoder by `models/export/fit-preview.ts`), upscaled 2× (nearest) and written as an
 * animated WebP by sharp. The map's output is [0,1] RGB at latent resolution (W/8 × H/8).
 */
import sharp from 'sharp';

type Rgb = readonly [number, number, number];

/** `model.json` → `preview.latent_rgb`: rgb[c] = bias[c] + Σ_k weights[k][c] · x0[k], in [0,1]. */
export interface LatentRgbMap {
  /** 4 rows (latent channels) × 3 columns (R, G, B). */
  readonly weights: readonly [Rgb, Rgb, Rgb, Rgb];
  readonly bias: Rgb;
}

export interface PreviewImage {
  /** The denoising step it shows (1-based) and the steps in all. */
  readonly step: number;
  readonly steps: number;
  readonly type: 'image/webp';
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
  readonly frames: number;
}

/** Checks a map read from JSON; undefined when it is not a 4×3 map with a 3-bias of finite numbers. */
export function parseLatentRgbMap(raw: unknown): LatentRgbMap | undefined {
  const r = raw as { weights?: unknown; bias?: unknown } | undefined;
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const row3 = (v: unknown): v is Rgb => Array.isArray(v) && v.length === 3 && v.every(finite);
  if (!r || !Array.isArray(r.weights) || r.weights.length !== 4 || !r.weights.every(row3)) return undefined;
  if (!row3(r.bias)) return undefined;
  return { weights: r.weights as unknown as LatentRgbMap['weights'], bias: r.bias };
}

/**
 * x0 [F,4,h,w] → 8-bit RGB, HWC, the F frames stacked vertically, each upscaled `scale`× (nearest).
 * Written for speed: it runs inside the denoising loop.
 */
export function latentsToRgb(
  x0: Float32Array,
  frames: number,
  latentH: number,
  latentW: number,
  map: LatentRgbMap,
  scale = 2,
): Uint8Array {
  const plane = latentH * latentW;
  const outW = latentW * scale;
  const out = new Uint8Array(frames * plane * scale * scale * 3);
  const [w0, w1, w2, w3] = map.weights;
  const row = new Uint8Array(outW * 3);
  for (let f = 0; f < frames; f++) {
    const base = f * 4 * plane;
    for (let y = 0; y < latentH; y++) {
      for (let x = 0; x < latentW; x++) {
        const p = base + y * latentW + x;
        const a = x0[p]!;
        const b = x0[p + plane]!;
        const c = x0[p + 2 * plane]!;
        const d = x0[p + 3 * plane]!;
        for (let ch = 0; ch < 3; ch++) {
          const v = map.bias[ch]! + w0[ch]! * a + w1[ch]! * b + w2[ch]! * c + w3[ch]! * d;
          const byte = v <= 0 ? 0 : v >= 1 ? 255 : Math.round(v * 255);
          for (let s = 0; s < scale; s++) row[(x * scale + s) * 3 + ch] = byte;
        }
      }
      const top = (f * latentH + y) * scale;
      for (let s = 0; s < scale; s++) out.set(row, (top + s) * outW * 3);
    }
  }
  return out;
}

/** Stacked RGB frames → one animated WebP (looping, `fps` frames a second). Runs in sharp's threads. */
export async function encodePreview(
  rgb: Uint8Array,
  width: number,
  frameHeight: number,
  frames: number,
  fps: number,
): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height: frameHeight * frames, channels: 3, pageHeight: frameHeight } })
    .webp({ loop: 0, delay: new Array(frames).fill(Math.round(1000 / fps)), quality: 60, effort: 0 })
    .toBuffer();
}

/**
 * Turns the pipeline's denoised estimates into previews for one job, within a cost budget: after a
 * preview that took c ms (mapping + encoding), the next one waits at least c / budget ms (budget 5%:
 * 20·c), and none starts while one is encoding. The WebP encode runs in sharp's threads. The last
 * step is always made, so a finished job's preview is its final latents.
 */
export class PreviewMaker {
  /** Milliseconds spent in the loop (x0 → RGB) and encoding, per preview made. */
  readonly mapMs: number[] = [];
  readonly encodeMs: number[] = [];
  readonly #map: LatentRgbMap;
  readonly #shape: { frames: number; latentH: number; latentW: number; fps: number };
  readonly #every: number;
  readonly #budget: number;
  readonly #emit: (p: PreviewImage) => void;
  #waiting: { rgb: Uint8Array; step: number; steps: number } | undefined;
  #busy: Promise<void> | undefined;
  #nextAt = 0;

  constructor(
    map: LatentRgbMap,
    shape: { frames: number; latentH: number; latentW: number; fps: number },
    emit: (p: PreviewImage) => void,
    opts: { every?: number; budget?: number } = {},
  ) {
    this.#map = map;
    this.#shape = shape;
    this.#emit = emit;
    this.#every = Math.max(1, Math.floor(opts.every ?? 1));
    this.#budget = opts.budget ?? 0.05;
  }

  /** The pipeline's `onDenoised`. */
  readonly onDenoised = (x0: Float32Array, step: number, steps: number): void => {
    const last = step === steps;
    if (!last && (step % this.#every !== 0 || this.#busy || performance.now() < this.#nextAt)) return;
    const t = performance.now();
    const { frames, latentH, latentW } = this.#shape;
    const rgb = latentsToRgb(x0, frames, latentH, latentW, this.#map);
    this.mapMs.push(performance.now() - t);
    this.#waiting = { rgb, step, steps };
    this.#busy ??= this.#drain();
  };

  /** Resolves once every preview asked for so far is encoded and emitted. */
  async flush(): Promise<void> {
    while (this.#busy) await this.#busy;
  }

  async #drain(): Promise<void> {
    const { frames, latentH, latentW, fps } = this.#shape;
    try {
      while (this.#waiting) {
        const { rgb, step, steps } = this.#waiting;
        this.#waiting = undefined;
        const t = performance.now();
        try {
          const data = await encodePreview(rgb, latentW * 2, latentH * 2, frames, fps);
          const ms = performance.now() - t;
          this.encodeMs.push(ms);
          this.#nextAt = performance.now() + (ms + (this.mapMs.at(-1) ?? 0)) / this.#budget;
          this.#emit({
            step,
            steps,
            type: 'image/webp',
            data,
            width: latentW * 2,
            height: latentH * 2,
            frames,
          });
        } catch {
          // A preview is best effort: the job goes on without this one.
        }
      }
    } finally {
      this.#busy = undefined;
    }
  }
}
