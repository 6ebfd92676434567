/**
 * Image input rules (engine/src/preprocess.ts) and the VAE branch's pixels. Every picture is
 * made here with sharp, or crafted byte by byte, so each case is exactly what it claims to be.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../../engine/src/errors.ts';
import { inspectImage, loadImage, sniffFormat, vaePixels } from '../../engine/src/preprocess.ts';

const CASE = path.resolve(import.meta.dirname, '../fixtures/case_public');

/** A raw little-endian float32 file; small files share Node's pooled ArrayBuffer, so copy by offset. */
function readF32(name: string): Float32Array {
  const b = readFileSync(path.join(CASE, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

type Rgba = readonly [number, number, number, number];

function solid(width: number, height: number, [r, g, b, a]: Rgba): Sharp {
  return sharp({ create: { width, height, channels: 4, background: { r, g, b, alpha: a / 255 } } });
}

/** An RGBA picture whose left and right halves have different colours. */
function halves(width: number, height: number, left: Rgba, right: Rgba): Sharp {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(x < width / 2 ? left : right, (y * width + x) * 4);
  }
  return sharp(raw, { raw: { width, height, channels: 4 } });
}

/** The RGB triple at (x, y) of a loaded picture. */
function pixel(img: { rgb: Uint8Array; width: number }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 3;
  return [img.rgb[i], img.rgb[i + 1], img.rgb[i + 2]];
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A tiny, well-formed PNG whose IHDR claims width×height (8-bit RGB): a decompression bomb's header. */
function pngClaiming(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  const idat = Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]); // an empty zlib stream
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A 16-bit grey+alpha PNG (colour type 4) written byte by byte; `at` gives each pixel's [grey, alpha]. */
function png16GreyAlpha(
  width: number,
  height: number,
  at: (x: number, y: number) => [number, number],
): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 16;
  ihdr[9] = 4;
  const stride = 1 + width * 4;
  const scanlines = Buffer.alloc(height * stride); // filter byte 0 (none) on each line
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [grey, alpha] = at(x, y);
      scanlines.writeUInt16BE(grey, y * stride + 1 + x * 4);
      scanlines.writeUInt16BE(alpha, y * stride + 3 + x * 4);
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(scanlines)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Runs `fn`, which must reject with an ImageError, and returns that error. */
async function refusal(fn: () => Promise<unknown>): Promise<ImageError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ImageError);
    return err as ImageError;
  }
  throw new Error('expected an ImageError, but the call succeeded');
}

/** A noisy picture, so that compressed files are large enough to truncate meaningfully. */
function noisy(width: number, height: number): Sharp {
  return sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128, sigma: 50 },
    },
  });
}

describe('inspectImage: accepted types', () => {
  it('reads format and size of an 8-bit RGB png from the header', async () => {
    const png = await noisy(96, 40).png().toBuffer();
    expect(await inspectImage(png)).toEqual({ format: 'png', width: 96, height: 40 });
  });

  it('accepts a 16-bit grey+alpha png', async () => {
    const png = png16GreyAlpha(10, 6, () => [0x8080, 0xffff]);
    const meta = await sharp(png).metadata();
    expect([meta.depth, meta.channels, meta.hasAlpha]).toEqual(['ushort', 2, true]);
    expect(await inspectImage(png)).toEqual({ format: 'png', width: 10, height: 6 });
  });

  it('gives a jpeg with EXIF orientation 6 its displayed (rotated) size', async () => {
    const jpeg = await solid(40, 20, [255, 0, 0, 255]).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    expect(await inspectImage(jpeg)).toEqual({ format: 'jpeg', width: 20, height: 40 });
  });

  it('accepts webp, gif and avif', async () => {
    const base = noisy(64, 48);
    expect(await inspectImage(await base.clone().webp().toBuffer())).toEqual({
      format: 'webp',
      width: 64,
      height: 48,
    });
    expect(await inspectImage(await base.clone().gif().toBuffer())).toEqual({
      format: 'gif',
      width: 64,
      height: 48,
    });
    expect(await inspectImage(await base.clone().avif().toBuffer())).toEqual({
      format: 'avif',
      width: 64,
      height: 48,
    });
  });

  it('gives an animated gif the size of one frame', async () => {
    const gif = await animatedGif();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    expect(await inspectImage(gif)).toEqual({ format: 'gif', width: 8, height: 4 });
  });
});

/** Two 8×4 frames: red, then blue. */
function animatedGif(): Promise<Buffer> {
  const red = Buffer.alloc(8 * 4 * 4);
  const blue = Buffer.alloc(8 * 4 * 4);
  for (let i = 0; i < 32; i++) {
    red.set([255, 0, 0, 255], i * 4);
    blue.set([0, 0, 255, 255], i * 4);
  }
  return sharp(Buffer.concat([red, blue]), { raw: { width: 8, height: 8, channels: 4, pageHeight: 4 } })
    .gif({ delay: [100, 100] })
    .toBuffer();
}

describe('inspectImage: refusals', () => {
  it('refuses random bytes, text, an empty file, SVG, TIFF and HEIC as unsupported_type (415)', async () => {
    let seed = 7;
    const random = Buffer.alloc(4096);
    for (let i = 0; i < random.length; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      random[i] = seed >>> 24;
    }
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="red"/></svg>',
    );
    expect((await sharp(svg).metadata()).format).toBe('svg'); // sharp itself would decode it
    const tiff = await noisy(16, 16).tiff().toBuffer();
    const heic = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypheic\0\0\0\0mif1heic', 'latin1'),
      Buffer.alloc(64),
    ]);
    for (const buf of [
      random,
      Buffer.from('hello, this is a text file\n'),
      Buffer.alloc(0),
      svg,
      tiff,
      heic,
    ]) {
      const err = await refusal(() => inspectImage(buf));
      expect(err.code).toBe('unsupported_type');
      expect(err.status).toBe(415);
      expect(err.message).toMatch(/png, jpeg, webp, gif or avif/);
    }
  });

  it('refuses truncated png, jpeg, webp, gif and avif files as corrupt_image (422)', async () => {
    const base = noisy(256, 192);
    const files = {
      png: await base.clone().png().toBuffer(),
      jpeg: await base.clone().jpeg().toBuffer(),
      webp: await base.clone().webp().toBuffer(),
      gif: await base.clone().gif().toBuffer(),
      avif: await base.clone().avif().toBuffer(),
    };
    for (const [format, buf] of Object.entries(files)) {
      expect(await inspectImage(buf)).toMatchObject({ format }); // whole: accepted
      // Cut early, midway, and near the end: only the last rows of pixels are missing.
      for (const kept of [0.1, 0.6, 0.99]) {
        const err = await refusal(() => inspectImage(buf.subarray(0, Math.floor(buf.length * kept))));
        expect([format, kept, err.code, err.status]).toEqual([format, kept, 'corrupt_image', 422]);
        expect(err.message).toMatch(/damaged or incomplete/);
      }
    }
  });

  it('reads every row: a file missing only its last rows of pixels is refused', async () => {
    // A decoder that samples rows (a nearest-neighbour thumbnail) would stop early and pass these.
    const buf = await noisy(512, 384).png({ compressionLevel: 1 }).toBuffer();
    expect(await inspectImage(buf)).toMatchObject({ width: 512, height: 384 });
    const err = await refusal(() => inspectImage(buf.subarray(0, Math.floor(buf.length * 0.995))));
    expect(err.code).toBe('corrupt_image');
  });

  it('refuses a png with a valid signature and garbage after it as corrupt_image', async () => {
    const buf = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.alloc(200, 0x41),
    ]);
    expect((await refusal(() => inspectImage(buf))).code).toBe('corrupt_image');
  });

  it('refuses a header claiming 50000×50000 as image_too_large (413), fast and without decoding', async () => {
    const bomb = pngClaiming(50_000, 50_000);
    expect(bomb.length).toBeLessThan(100);
    const started = performance.now();
    const err = await refusal(() => inspectImage(bomb));
    const ms = performance.now() - started;
    expect([err.code, err.status]).toEqual(['image_too_large', 413]);
    expect(err.message).toContain('50000×50000');
    expect(err.message).toContain('40 megapixels');
    // Decoding 2.5 gigapixels would take minutes and 7.5 GB; reading the header takes milliseconds.
    expect(ms).toBeLessThan(500);
  });

  it('applies a custom maxPixels to the header size', async () => {
    const png = await noisy(100, 100).png().toBuffer();
    expect(await inspectImage(png, { maxPixels: 10_000 })).toMatchObject({ width: 100 });
    const err = await refusal(() => inspectImage(png, { maxPixels: 9_999 }));
    expect(err.code).toBe('image_too_large');
  });

  it('refuses a file over maxBytes as file_too_large (413) before looking inside', async () => {
    const png = await noisy(64, 64).png().toBuffer();
    const small = await refusal(() => inspectImage(png, { maxBytes: png.length - 1 }));
    expect([small.code, small.status]).toEqual(['file_too_large', 413]);
    expect(await inspectImage(png, { maxBytes: png.length })).toMatchObject({ format: 'png' });
    // The default limit is 20 MB, checked before the content: these bytes are not even an image.
    const huge = await refusal(() => inspectImage(Buffer.alloc(20_000_001)));
    expect(huge.code).toBe('file_too_large');
    expect(huge.message).toContain('20 MB');
  });
});

describe('sniffFormat', () => {
  it('tells AVIF from other ISO-BMFF files by its brands', () => {
    const box = (brands: string) => {
      const b = Buffer.from(`\0\0\0\0ftyp${brands}`, 'latin1');
      b.writeUInt32BE(b.length, 0);
      return b;
    };
    expect(sniffFormat(box('avif\0\0\0\0avifmif1'))).toBe('avif');
    expect(sniffFormat(box('mif1\0\0\0\0mif1avif'))).toBe('avif');
    expect(sniffFormat(box('heic\0\0\0\0mif1heic'))).toBeUndefined();
    expect(sniffFormat(box('isom\0\0\0\0isomavc1'))).toBeUndefined(); // an MP4
  });
});

describe('loadImage', () => {
  it('returns the fixture picture unchanged when it is already the target size', async () => {
    const input = readFileSync(path.join(CASE, 'input.png'));
    const img = await loadImage(input, { width: 128, height: 64 });
    const { data } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect(img.width).toBe(128);
    expect(img.height).toBe(64);
    expect(Buffer.from(img.rgb).equals(data)).toBe(true);
  });

  it('applies EXIF orientation 6 (rotate 90° clockwise)', async () => {
    // Stored 40×20: left half red, right half blue. Displayed 20×40: red on top, blue below.
    const jpeg = await halves(40, 20, [255, 0, 0, 255], [0, 0, 255, 255])
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const img = await loadImage(jpeg, { width: 20, height: 40 });
    const top = pixel(img, 10, 5);
    const bottom = pixel(img, 10, 34);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(60);
  });

  it('resizes to cover the target and crops the centre', async () => {
    // 300×100 in thirds: red | green | blue. A 64×64 cover crop keeps the green middle only.
    const raw = Buffer.alloc(300 * 100 * 3);
    for (let i = 0; i < 300 * 100; i++)
      raw.set(
        [
          [255, 0, 0],
          [0, 255, 0],
          [0, 0, 255],
        ][Math.floor((i % 300) / 100)],
        i * 3,
      );
    const png = await sharp(raw, { raw: { width: 300, height: 100, channels: 3 } })
      .png()
      .toBuffer();
    const img = await loadImage(png, { width: 64, height: 64 });
    expect(img.rgb.length).toBe(64 * 64 * 3);
    for (const [x, y] of [
      [2, 2],
      [32, 32],
      [61, 61],
    ]) {
      const [r, g, b] = pixel(img, x, y);
      expect(g).toBeGreaterThan(230);
      expect(r + b).toBeLessThan(30);
    }
    // Wider target: the whole width is kept, so red and blue appear at the sides.
    const wide = await loadImage(png, { width: 192, height: 64 });
    expect(pixel(wide, 4, 32)[0]).toBeGreaterThan(230);
    expect(pixel(wide, 187, 32)[2]).toBeGreaterThan(230);
  });

  it('flattens transparency onto white', async () => {
    const png = await halves(16, 8, [0, 0, 0, 0], [0, 0, 0, 255]).png().toBuffer();
    const img = await loadImage(png, { width: 16, height: 8 });
    expect(pixel(img, 2, 4)).toEqual([255, 255, 255]);
    expect(pixel(img, 13, 4)).toEqual([0, 0, 0]);
  });

  it('turns a 16-bit grey+alpha png into 8-bit RGB, flattened', async () => {
    // Left half transparent, right half opaque grey 0x8080 (128.5/255).
    const png = png16GreyAlpha(8, 4, (x) => [0x8080, x < 4 ? 0 : 0xffff]);
    const img = await loadImage(png, { width: 8, height: 4 });
    expect(img.rgb.length).toBe(8 * 4 * 3);
    expect(pixel(img, 1, 2)).toEqual([255, 255, 255]);
    expect(pixel(img, 6, 2)).toEqual([128, 128, 128]);
  });

  it('converts a CMYK jpeg to RGB', async () => {
    const cmyk = await solid(32, 16, [200, 30, 30, 255]).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).channels).toBe(4);
    const img = await loadImage(cmyk, { width: 32, height: 16 });
    expect(img.rgb.length).toBe(32 * 16 * 3);
    const [r, g, b] = pixel(img, 16, 8);
    expect(r).toBeGreaterThan(170);
    expect(g + b).toBeLessThan(90);
  });

  it('uses the first frame of an animated gif', async () => {
    const img = await loadImage(await animatedGif(), { width: 8, height: 4 });
    expect(pixel(img, 4, 2)).toEqual([255, 0, 0]);
  });

  it('loads webp and avif', async () => {
    for (const buf of [
      await solid(32, 32, [0, 200, 0, 255]).webp({ lossless: true }).toBuffer(),
      await solid(32, 32, [0, 200, 0, 255]).avif({ quality: 90 }).toBuffer(),
    ]) {
      const [r, g, b] = pixel(await loadImage(buf, { width: 64, height: 64 }), 32, 32);
      expect(g).toBeGreaterThan(185);
      expect(r + b).toBeLessThan(30);
    }
  });

  it('refuses what inspectImage refuses', async () => {
    const png = await noisy(128, 128).png().toBuffer();
    expect((await refusal(() => loadImage(png.subarray(0, 2000), { width: 64, height: 64 }))).code).toBe(
      'corrupt_image',
    );
    expect(
      (await refusal(() => loadImage(pngClaiming(50_000, 50_000), { width: 64, height: 64 }))).code,
    ).toBe('image_too_large');
    expect((await refusal(() => loadImage(Buffer.from('<svg/>'), { width: 64, height: 64 }))).code).toBe(
      'unsupported_type',
    );
    expect((await refusal(() => loadImage(png, { width: 64, height: 64 }, { maxBytes: 100 }))).code).toBe(
      'file_too_large',
    );
  });
});

describe('vaePixels', () => {
  it('maps u8 to u8/255·2−1 in float32, CHW', () => {
    const rgb = new Uint8Array([0, 128, 255, 51, 102, 204]); // 2×1 picture
    const out = vaePixels(rgb, 2, 1);
    const expected = [0, 51, 128, 102, 255, 204].map((v) => Math.fround(2 * Math.fround(v / 255) - 1));
    expect(Array.from(out)).toEqual(expected);
    expect(out[0]).toBe(-1);
    expect(out[4]).toBe(1);
  });

  it('plus 0.02 × the recorded noise reproduces the pipeline’s vae_input bit for bit', async () => {
    const img = await loadImage(readFileSync(path.join(CASE, 'input.png')), { width: 128, height: 64 });
    const pixels = vaePixels(img.rgb, img.width, img.height);
    const noise = readF32('noise_aug_noise.f32');
    const vaeInput = readF32('vae_input.f32');
    expect(vaeInput.length).toBe(3 * 64 * 128);
    const strength = Math.fround(0.02);
    let maxAbs = 0;
    for (let i = 0; i < vaeInput.length; i++) {
      const v = Math.fround(pixels[i] + Math.fround(strength * noise[i]));
      maxAbs = Math.max(maxAbs, Math.abs(v - vaeInput[i]));
    }
    expect(maxAbs).toBeLessThanOrEqual(1e-6);
    expect(maxAbs).toBe(0);
  });

  it('rejects a buffer of the wrong length', () => {
    expect(() => vaePixels(new Uint8Array(5), 2, 1)).toThrow(RangeError);
  });
});
