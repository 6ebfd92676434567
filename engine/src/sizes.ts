/**
 * Output sizes (README.md, "Options"). The model's native size is W×H (1024×576 for SVD,
 * 128×64 for the bundled tiny model):
 * - `landscape` = W×H, `portrait` = H×W;
 * - `square` = √(W·H) rounded to a multiple of 64;
 * - `auto` = the multiple-of-64 size nearest the picture's aspect ratio with about W·H pixels.
 * Every side stays within [64, 2·max(W, H)]. The picture is later resized to cover the size and
 * centre-cropped to it (preprocess.ts).
 */
import { EngineError } from './errors.ts';
import type { SizeMode } from './options.ts';

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** Static exports need multiples of 64 (the shared SVD pipeline spec, svd-pipeline.md, "Known traps"). */
export const SIZE_STEP = 64;

/**
 * How much `auto` weighs a pixel count away from W·H against an aspect ratio away from the
 * picture's: both measured as |ln(ratio)|. Aspect comes first ("nearest the picture's aspect"),
 * the pixel count second ("about W·H pixels").
 */
const AREA_WEIGHT = 0.5;
/** `auto` only considers sizes with W·H/2 … 2·W·H pixels. */
const AREA_BAND = 2;
/** Scores closer than this are a tie; ties go to the smaller size (cheaper, less memory). */
const TIE = 1e-9;

function roundToStep(value: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.round(value / SIZE_STEP) * SIZE_STEP));
}

/**
 * Picks the output size for a picture of `srcWidth`×`srcHeight` pixels, as displayed (after EXIF
 * orientation: use the width and height {@link inspectImage} returns).
 */
export function chooseSize(mode: SizeMode, srcWidth: number, srcHeight: number, model: Size): Size {
  const { width: W, height: H } = model;
  if (!(Number.isInteger(W) && Number.isInteger(H) && W >= SIZE_STEP && H >= SIZE_STEP)) {
    throw new EngineError('bad_size', `model size ${W}×${H} must be whole numbers of at least ${SIZE_STEP}`);
  }
  if (!(srcWidth > 0 && srcHeight > 0 && Number.isFinite(srcWidth) && Number.isFinite(srcHeight))) {
    throw new EngineError('bad_size', `picture size ${srcWidth}×${srcHeight} must be positive`);
  }
  const lo = SIZE_STEP;
  const hi = Math.max(lo, Math.floor((2 * Math.max(W, H)) / SIZE_STEP) * SIZE_STEP);
  switch (mode) {
    case 'landscape':
      return { width: W, height: H };
    case 'portrait':
      return { width: H, height: W };
    case 'square': {
      const side = roundToStep(Math.sqrt(W * H), lo, hi);
      return { width: side, height: side };
    }
    case 'auto':
      return autoSize(srcWidth / srcHeight, W * H, lo, hi);
    default:
      throw new EngineError(
        'bad_size',
        `unknown size mode "${String(mode)}": use auto, landscape, portrait or square`,
      );
  }
}

/**
 * Scans every multiple-of-64 size within the side bounds and the pixel band, scoring
 * |ln(aspect / picture aspect)| + AREA_WEIGHT·|ln(pixels / W·H)|; the lowest score wins.
 */
function autoSize(aspect: number, area: number, lo: number, hi: number): Size {
  const logAspect = Math.log(aspect);
  let best: Size | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (let h = lo; h <= hi; h += SIZE_STEP) {
    for (let w = lo; w <= hi; w += SIZE_STEP) {
      const pixels = w * h;
      if (pixels * AREA_BAND < area || pixels > area * AREA_BAND) continue;
      const score = Math.abs(Math.log(w / h) - logAspect) + AREA_WEIGHT * Math.abs(Math.log(pixels / area));
      const better =
        score < bestScore - TIE ||
        (best !== undefined && Math.abs(score - bestScore) <= TIE && pixels < best.width * best.height);
      if (better) {
        best = { width: w, height: h };
        bestScore = score;
      }
    }
  }
  // The band always holds W×H itself, so `best` is set; the fallback only satisfies the types.
  return (
    best ?? { width: roundToStep(Math.sqrt(area), lo, hi), height: roundToStep(Math.sqrt(area), lo, hi) }
  );
}
