/**
 * Image input: check an upload cheaply (inspectImage), then load it at the output size
 * (loadImage) and turn it into the VAE branch's tensor (vaePixels): step 1 of the shared SVD
 * pipeline spec (svd-pipeline.md). The input rules follow.
 *
 * Accepted: png (8/16-bit, grey, alpha), jpeg, webp, gif (first frame) and avif. The type is
 * decided from the file's own magic bytes, so SVG, TIFF, HEIC and friends never reach a decoder.
 */
import sharp, { type Metadata } from 'sharp';

import { ImageError } from './errors.ts';
import type { Size } from './sizes.ts';

// Decoded uploads must not linger in libvips' operation cache: the service handles many one-off pictures.
sharp.cache(false);

export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'avif';

export interface ImageLimits {
  /** Largest upload in bytes. @default 20_000_000 (20 MB) */
  readonly maxBytes?: number;
  /** Largest picture in pixels (width × height, read from the header). @default 40_000_000 */
  readonly maxPixels?: number;
}

export interface ImageInfo {
  readonly format: ImageFormat;
  /** Width and height as displayed, i.e. after the EXIF orientation is applied. */
  readonly width: number;
  readonly height: number;
}

export interface RgbImage {
  /** 8-bit RGB, row-major HWC, `width * height * 3` bytes. */
  readonly rgb: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export const DEFAULT_MAX_BYTES = 20_000_000;
export const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * Transparent pixels are flattened onto white: pictures with transparency are mostly logos,
 * stickers and line art drawn for light backgrounds, where black would hide dark strokes.
 */
export const FLATTEN_BACKGROUND = { r: 255, g: 255, b: 255 } as const;

/**
 * libvips' strictness for pixel data. 'error' refuses truncated files and decoder errors, but
 * keeps benign warnings (an old "incorrect sRGB profile" in a PNG, stray bytes in a camera
 * JPEG), which 'warning' would refuse although the picture decodes fine.
 */
const FAIL_ON = 'error' as const;

const ACCEPTED = 'png, jpeg, webp, gif or avif';

function limitsOf(limits: ImageLimits | undefined): { maxBytes: number; maxPixels: number } {
  return {
    maxBytes: limits?.maxBytes ?? DEFAULT_MAX_BYTES,
    maxPixels: limits?.maxPixels ?? DEFAULT_MAX_PIXELS,
  };
}

function megabytes(bytes: number): string {
  return `${Math.round((bytes / 1e6) * 10) / 10} MB`;
}

function megapixels(pixels: number): string {
  return `${Math.round((pixels / 1e6) * 10) / 10} megapixels`;
}

function startsWith(buf: Uint8Array, bytes: readonly number[], at = 0): boolean {
  if (buf.length < at + bytes.length) return false;
  return bytes.every((b, i) => buf[at + i] === b);
}

function ascii(buf: Uint8Array, at: number, length: number): string {
  return buf.length < at + length
    ? ''
    : Buffer.from(buf.buffer, buf.byteOffset + at, length).toString('latin1');
}

/** An ISO-BMFF `ftyp` box whose major or compatible brands include AVIF's ('avif', 'avis'). */
function isAvif(buf: Uint8Array): boolean {
  if (ascii(buf, 4, 4) !== 'ftyp') return false;
  const boxSize = Buffer.from(buf.buffer, buf.byteOffset, buf.length).readUInt32BE(0);
  const end = Math.min(buf.length, boxSize);
  for (let at = 8; at + 4 <= end; at += 4) {
    if (at === 12) continue; // minor_version, not a brand
    const brand = ascii(buf, at, 4);
    if (brand === 'avif' || brand === 'avis') return true;
  }
  return false;
}

/** The format from the file's magic bytes, or undefined for anything we do not accept. */
export function sniffFormat(buf: Uint8Array): ImageFormat | undefined {
  if (startsWith(buf, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (startsWith(buf, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 4) === 'WEBP') return 'webp';
  const gif = ascii(buf, 0, 6);
  if (gif === 'GIF87a' || gif === 'GIF89a') return 'gif';
  if (isAvif(buf)) return 'avif';
  return undefined;
}

function corrupt(format: string, err: unknown): ImageError {
  return new ImageError(
    'corrupt_image',
    `this ${format} file is damaged or incomplete and cannot be read; please upload the original picture again`,
    422,
    { cause: err },
  );
}

function tooManyPixels(width: number, height: number, maxPixels: number): ImageError {
  return new ImageError(
    'image_too_large',
    `the picture is ${width}×${height} (${megapixels(width * height)}); the limit is ${megapixels(maxPixels)}: please upload a smaller one`,
    413,
  );
}

/**
 * The checks that need no pixels: size in bytes, type from the magic bytes, then the header
 * (sharp's metadata) and its pixel count. A decompression bomb stops here, undecoded.
 */
async function checkHeader(
  buf: Buffer,
  limits: ImageLimits | undefined,
): Promise<{ format: ImageFormat; meta: Metadata; maxPixels: number }> {
  const { maxBytes, maxPixels } = limitsOf(limits);
  if (buf.length > maxBytes) {
    throw new ImageError(
      'file_too_large',
      `the file is ${megabytes(buf.length)}; the limit is ${megabytes(maxBytes)}: please upload a smaller one`,
      413,
    );
  }
  const format = sniffFormat(buf);
  if (format === undefined) {
    throw new ImageError(
      'unsupported_type',
      `this is not a picture we can use: send a ${ACCEPTED} image`,
      415,
    );
  }
  let meta: Metadata;
  try {
    // Header only. No pixel limit here: the check below names the size in its message.
    meta = await sharp(buf, { failOn: FAIL_ON, limitInputPixels: false }).metadata();
  } catch (err) {
    throw corrupt(format, err);
  }
  if (format === 'avif' && meta.compression !== 'av1') {
    throw new ImageError('unsupported_type', `this HEIF file is not AVIF: send a ${ACCEPTED} image`, 415);
  }
  if (!(meta.width > 0 && meta.height > 0)) {
    throw corrupt(format, new Error(`header gives size ${meta.width}×${meta.height}`));
  }
  if (meta.width * meta.height > maxPixels) throw tooManyPixels(meta.width, meta.height, maxPixels);
  return { format, meta, maxPixels };
}

/**
 * Checks an upload before it is queued: size in bytes, type, pixel count from the header, and
 * that the pixel data decodes in full (a truncated file is refused now, not when the job runs).
 * The pixel count is checked before anything is decoded, so a decompression bomb costs nothing.
 * The full check then decodes into an 8×8 thumbnail through libvips' shrink-on-load (JPEG and
 * WebP decode at 1/8 scale), streaming, so memory stays small: about 20 ms of CPU for a 1080p
 * PNG and 50 ms for a 12-megapixel JPEG.
 *
 * @throws {ImageError} file_too_large (413), unsupported_type (415), image_too_large (413), corrupt_image (422)
 */
export async function inspectImage(buf: Buffer, limits?: ImageLimits): Promise<ImageInfo> {
  const { format, meta, maxPixels } = await checkHeader(buf, limits);
  try {
    await sharp(buf, { failOn: FAIL_ON, limitInputPixels: maxPixels })
      // Not kernel 'nearest': libvips would then skip the rows it does not sample, and a file
      // cut short near its end would pass.
      .resize(8, 8, { fit: 'fill' })
      .raw()
      .toBuffer();
  } catch (err) {
    throw corrupt(format, err);
  }
  return {
    format,
    width: meta.autoOrient?.width ?? meta.width,
    height: meta.autoOrient?.height ?? meta.height,
  };
}

/**
 * Decodes a picture as the pipeline sees it: EXIF orientation applied, transparency flattened
 * onto {@link FLATTEN_BACKGROUND}, the first frame of an animation, resized (Lanczos-3) to cover
 * `target` and centre-cropped to it, 8-bit sRGB. `limitInputPixels` guards the decoder as well.
 *
 * @throws {ImageError} as {@link inspectImage}
 */
export async function loadImage(buf: Buffer, target: Size, limits?: ImageLimits): Promise<RgbImage> {
  if (
    !(
      Number.isInteger(target.width) &&
      Number.isInteger(target.height) &&
      target.width > 0 &&
      target.height > 0
    )
  ) {
    throw new RangeError(`target size ${target.width}×${target.height} must be positive whole numbers`);
  }
  const { format, maxPixels } = await checkHeader(buf, limits);
  try {
    const { data, info } = await sharp(buf, { failOn: FAIL_ON, limitInputPixels: maxPixels, pages: 1 })
      .autoOrient()
      .flatten({ background: FLATTEN_BACKGROUND })
      .resize(target.width, target.height, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.width !== target.width || info.height !== target.height || info.channels !== 3) {
      throw new Error(`decoder gave ${info.width}×${info.height}×${info.channels}`);
    }
    return {
      rgb: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
    };
  } catch (err) {
    throw corrupt(format, err);
  }
}

/**
 * The VAE branch's input: CHW float32 in [-1, 1], computed as diffusers does
 * (`pil_to_numpy`: u8 / 255 in float32, then `2x − 1` in float32).
 */
export function vaePixels(rgb: Uint8Array, width: number, height: number): Float32Array {
  const plane = width * height;
  if (rgb.length !== plane * 3) throw new RangeError(`expected ${plane * 3} RGB bytes, got ${rgb.length}`);
  // 256 possible values: one table, each entry rounded to float32 at every step.
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = Math.fround(2 * Math.fround(v / 255) - 1);
  const out = new Float32Array(plane * 3);
  for (let i = 0, p = 0; p < plane; p++, i += 3) {
    out[p] = table[rgb[i]];
    out[plane + p] = table[rgb[i + 1]];
    out[2 * plane + p] = table[rgb[i + 2]];
  }
  return out;
}
