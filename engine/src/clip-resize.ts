/**
 * The CLIP branch's pixels (step 2 of the shared SVD pipeline spec, svd-pipeline.md): diffusers' antialiased resize of the
 * picture to 224×224 (no crop: the picture is squashed), then CLIP's normalisation.
 *
 * diffusers (`_resize_with_antialiasing` in pipeline_stable_video_diffusion.py) works on the image
 * in [-1, 1] and, per axis:
 *   σ = max((in/out − 1)/2, 0.001), kernel size k = int(max(4σ, 3)), made odd by +1;
 * blurs with a normalised Gaussian exp(−x²/2σ²), x = −k//2 … k//2, reflect padding, first along
 * the width and then along the height (a kornia-style separable `filter2d`); then resizes with
 * PyTorch's bicubic (A = −0.75, `align_corners=True`, border indices clamped).
 *
 * Every step rounds to float32 where the float32 reference does, in the same order, and fuses the
 * multiply-adds it fuses: the result equals diffusers' `clip_pixel_values` in
 * test/fixtures/case_public bit for bit, and the blur equals PyTorch's (reflect pad + depthwise
 * conv2d) bit for bit on a 1024×576 test card (test/engine/clip-resize.test.ts).
 */
import { vaePixels } from './preprocess.ts';

/** CLIP's input size. The bundled exports leave it dynamic; real encoders were trained at 224. */
export const CLIP_SIZE = 224;
/** OpenAI CLIP's normalisation, used by SVD's CLIPImageProcessor. */
export const CLIP_MEAN: readonly number[] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly number[] = [0.26862954, 0.26130258, 0.27577711];

const f32 = Math.fround;

/** Gaussian size and σ for one axis, exactly as diffusers derives them (in float64, as Python does). */
export function blurParams(inSize: number, outSize: number): { sigma: number; kernelSize: number } {
  const sigma = Math.max((inSize / outSize - 1) / 2, 0.001);
  let kernelSize = Math.trunc(Math.max(2.0 * 2 * sigma, 3));
  if (kernelSize % 2 === 0) kernelSize += 1;
  return { sigma, kernelSize };
}

/**
 * The normalised 1-D Gaussian in float32: x = arange(k) − k//2 (+0.5 for even k),
 * exp(−x² / (2σ²)), divided by its sum. σ is a float32 tensor in diffusers.
 */
export function gaussianKernel(kernelSize: number, sigma: number): Float32Array {
  const s = f32(sigma);
  const twoSigma2 = f32(2 * f32(s * s));
  const half = Math.floor(kernelSize / 2);
  const g = new Float32Array(kernelSize);
  let sum = 0;
  for (let i = 0; i < kernelSize; i++) {
    const x = kernelSize % 2 === 0 ? i - half + 0.5 : i - half;
    g[i] = f32(Math.exp(f32(-f32(x * x) / twoSigma2)));
    sum = f32(sum + g[i]);
  }
  for (let i = 0; i < kernelSize; i++) g[i] = f32(g[i] / sum);
  return g;
}

/** torch.nn.functional.pad(mode="reflect"): the edge sample is not repeated. */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  let j = i;
  // One reflection suffices while the pad is smaller than the size, which diffusers requires.
  if (j < 0) j = -j;
  if (j >= n) j = 2 * (n - 1) - j;
  return j;
}

/**
 * One separable pass over every plane of `src` ([planes, h, w]), along the width (`alongWidth`)
 * or the height. Padding is (k−1)//2 in front and the rest behind, as kornia's `_compute_padding`.
 * Each output accumulates its taps in kernel order with fused multiply-adds: `acc += k·v` on a
 * Float32Array element is exactly fma(k, v, acc) rounded to float32.
 */
function blurAxis(
  src: Float32Array,
  planes: number,
  h: number,
  w: number,
  kernel: Float32Array,
  alongWidth: boolean,
): Float32Array {
  const k = kernel.length;
  const front = (k - 1) >> 1;
  // An identity kernel (σ = 0.001 when upscaling: only the centre tap is non-zero) changes nothing.
  if (kernel.every((v, i) => (i === front ? v === 1 : v === 0))) return src;
  const n = alongWidth ? w : h;
  if (k - 1 - front >= n) throw new RangeError(`a ${k}-tap blur needs more than ${n} pixels along this axis`);
  const out = new Float32Array(src.length);
  const plane = h * w;
  if (alongWidth) {
    const padded = new Float32Array(w + k - 1);
    for (let r = 0; r < planes * h; r++) {
      const row = r * w;
      for (let i = 0; i < padded.length; i++) padded[i] = src[row + reflectIndex(i - front, w)];
      const dst = out.subarray(row, row + w);
      for (let t = 0; t < k; t++) {
        const kt = kernel[t];
        for (let x = 0; x < w; x++) dst[x] += kt * padded[x + t];
      }
    }
  } else {
    for (let p = 0; p < planes; p++) {
      for (let y = 0; y < h; y++) {
        const dst = out.subarray(p * plane + y * w, p * plane + (y + 1) * w);
        for (let t = 0; t < k; t++) {
          const kt = kernel[t];
          const from = p * plane + reflectIndex(y - front + t, h) * w;
          for (let x = 0; x < w; x++) dst[x] += kt * src[from + x];
        }
      }
    }
  }
  return out;
}

/** A step of the CLIP resize: [planes, h, w] in, for an outH×outW result. */
type PlanesToSize = (
  src: Float32Array,
  planes: number,
  h: number,
  w: number,
  outH: number,
  outW: number,
) => Float32Array;

/**
 * The Gaussian blur that precedes the bicubic resize of [planes, h, w] to outH×outW: along the
 * width first, then along the height (diffusers' `_gaussian_blur2d`). Returns `src` itself when
 * both kernels are the identity, as when upscaling.
 */
export const antialiasBlur: PlanesToSize = (src, planes, h, w, outH, outW) => {
  const bh = blurParams(h, outH);
  const bw = blurParams(w, outW);
  const x = blurAxis(src, planes, h, w, gaussianKernel(bw.kernelSize, bw.sigma), true);
  return blurAxis(x, planes, h, w, gaussianKernel(bh.kernelSize, bh.sigma), false);
};

/**
 * A fused multiply-add on float32 values: a·b is exact in float64 (24 + 24 bits), so one float64
 * add and one rounding to float32 give the fused result, except in the very rare case where the
 * float64 sum lands exactly halfway between two float32 values (double rounding).
 */
function fma(a: number, b: number, c: number): number {
  return f32(a * b + c);
}

/*
 * The cubic convolution of PyTorch's bicubic, A = −0.75 (`upsample_bicubic2d`, float32):
 *   |x| ≤ 1: ((A + 2)·x − (A + 3))·x·x + 1
 *   1 < |x| < 2: ((A·x − 5A)·x + 8A)·x − 4A
 * The reference kernel that made test/fixtures/case_public fuses some of these multiply-adds; the
 * fusions below are the ones that reproduce its clip_pixel_values bit for bit (plain float32
 * rounding of every operation is off by up to 2e-6 after normalisation).
 */
const A = -0.75;
function cubic1(x: number): number {
  return f32(f32(f32(fma(A + 2, x, -(A + 3)) * x) * x) + 1);
}
function cubic2(x: number): number {
  return f32(f32(fma(fma(A, x, -5 * A), x, 8 * A) * x) - 4 * A);
}

/**
 * Source indices (clamped to the border) and weights of `align_corners=True` bicubic along one
 * axis: scale = (in − 1)/(out − 1) and source position = scale·i, both in float32; t is the
 * fractional part, and the 4 taps sit at floor − 1 … floor + 2.
 */
export function bicubicTaps(inSize: number, outSize: number): { index: Int32Array; weight: Float32Array } {
  const scale = outSize > 1 ? f32((inSize - 1) / (outSize - 1)) : 0;
  const index = new Int32Array(outSize * 4);
  const weight = new Float32Array(outSize * 4);
  for (let i = 0; i < outSize; i++) {
    const real = f32(scale * i);
    const base = Math.min(Math.floor(real), inSize - 1);
    const t = Math.min(Math.max(f32(real - base), 0), 1);
    const u = f32(1 - t);
    weight.set([cubic2(f32(t + 1)), cubic1(t), cubic1(u), cubic2(f32(u + 1))], i * 4);
    for (let j = 0; j < 4; j++) index[i * 4 + j] = Math.max(Math.min(base - 1 + j, inSize - 1), 0);
  }
  return { index, weight };
}

/** One 4-tap interpolation, v·w summed with the reference's fusion: fma(v0, w0, v1·w1), then + v2·w2, + v3·w3 fused. */
function tap4(v0: number, v1: number, v2: number, v3: number, w: Float32Array, at: number): number {
  const a = fma(v0, w[at], f32(v1 * w[at + 1]));
  return fma(v3, w[at + 3], fma(v2, w[at + 2], a));
}

/**
 * Bicubic resize of [planes, h, w] to [planes, outH, outW]: each output interpolates each of its
 * 4 source rows along the width, then those 4 values along the height.
 */
const bicubic: PlanesToSize = (src, planes, h, w, outH, outW) => {
  const ys = bicubicTaps(h, outH);
  const xs = bicubicTaps(w, outW);
  const xi = xs.index;
  const xw = xs.weight;
  const out = new Float32Array(planes * outH * outW);
  const rows = [0, 0, 0, 0];
  for (let p = 0; p < planes; p++) {
    const base = p * h * w;
    const obase = p * outH * outW;
    for (let oy = 0; oy < outH; oy++) {
      for (let ox = 0; ox < outW; ox++) {
        const x4 = ox * 4;
        for (let j = 0; j < 4; j++) {
          const row = base + ys.index[oy * 4 + j] * w;
          rows[j] = tap4(
            src[row + xi[x4]],
            src[row + xi[x4 + 1]],
            src[row + xi[x4 + 2]],
            src[row + xi[x4 + 3]],
            xw,
            x4,
          );
        }
        out[obase + oy * outW + ox] = tap4(rows[0], rows[1], rows[2], rows[3], ys.weight, oy * 4);
      }
    }
  }
  return out;
};

/**
 * CLIP `pixel_values` [3, 224, 224] (CHW float32) for an 8-bit HWC RGB picture, as diffusers'
 * `_encode_image` computes them: [-1, 1] → antialiased resize → [0, 1] → (x − mean) / std.
 */
export function clipPixelValues(rgb: Uint8Array, width: number, height: number): Float32Array {
  const blurred = antialiasBlur(vaePixels(rgb, width, height), 3, height, width, CLIP_SIZE, CLIP_SIZE);
  const out = bicubic(blurred, 3, height, width, CLIP_SIZE, CLIP_SIZE);
  const plane = CLIP_SIZE * CLIP_SIZE;
  for (let c = 0; c < 3; c++) {
    const mean = f32(CLIP_MEAN[c]);
    const std = f32(CLIP_STD[c]);
    for (let i = c * plane; i < (c + 1) * plane; i++) {
      const unit = f32(f32(out[i] + 1) / 2);
      out[i] = f32(f32(unit - mean) / std);
    }
  }
  return out;
}
