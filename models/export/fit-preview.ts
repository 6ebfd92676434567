/**
 * Fits a model's linear latent→RGB preview map (4×3 weights + bias) by least squares against its own
 * VAE decoder, and writes it into the folder's model.json as `preview.latent_rgb`:
 *
 *   node models/export/fit-preview.ts MODEL_DIR [--device cpu|cuda|auto] [--images a.png,b.jpg]
 *        [--calibrate encoder|pipeline] [--dry-run]
 *
 * Calibration: a few pictures (built-in colour fields and gradients, plus any --images) give latents x0
 * in the denoising loop's space, either
 *   - `encoder` (the default for real weights): the VAE encoder's latent mode × the scaling factor, what
 *     a trained denoiser converges to; or
 *   - `pipeline` (the default for random weights, whose UNet lands far from the encoder's latents): the
 *     final latents of a short run of the whole pipeline on each picture.
 * The same latents are decoded with the real VAE decoder, the frames are averaged over 8×8 blocks down to
 * latent resolution, and rgb = x0 · W + b is solved by least squares over every latent pixel. Prints one
 * JSON line on stdout: the map and its fit (Pearson r per channel). onnxruntime-node only: no torch.
 * `export_svd.py` runs it after an export.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import type { LatentRgbMap } from '../../engine/src/index.ts';
import { loadImage, loadModelInfo, runPipeline, SvdEngine, vaePixels } from '../../engine/src/index.ts';
import type { ModelInfo } from '../../engine/src/model-info.ts';
import { ModelSession } from '../../engine/src/onnx-session.ts';
import { loadOrt, parseDevice, providerCandidates, sessionOptions } from '../../engine/src/runtime.ts';

export interface VaeSessions {
  readonly encoder: ModelSession;
  readonly decoder: ModelSession;
}

export async function openVae(model: ModelInfo, device = 'cpu'): Promise<VaeSessions> {
  const ort = await loadOrt();
  const provider = providerCandidates(parseDevice(device))[0]!;
  const [encoder, decoder] = await Promise.all([
    ModelSession.create(ort, 'vae_encoder', model.files.vae_encoder, sessionOptions(provider)),
    ModelSession.create(ort, 'vae_decoder', model.files.vae_decoder, sessionOptions(provider)),
  ]);
  return { encoder: encoder!, decoder: decoder! };
}

/**
 * Decodes x0 [F,4,h,w] (the loop's scaled latents) with the real VAE decoder, one temporal chunk, and
 * averages each 8×8 block: [F,h,w,3] RGB in [0,1], what a perfect preview map would give.
 */
export async function decodeAtLatentRes(
  decoder: ModelSession,
  x0: Float32Array,
  frames: number,
  latentH: number,
  latentW: number,
  scalingFactor: number,
): Promise<Float32Array> {
  const input = Float32Array.from(x0, (v) => v / scalingFactor);
  const out = await decoder.run({
    [decoder.inputs[0]!.name]: { data: input, dims: [frames, 4, latentH, latentW] },
  });
  const H = latentH * 8;
  const W = latentW * 8;
  const small = new Float32Array(frames * latentH * latentW * 3);
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < 3; c++) {
      const plane = out.data.subarray((f * 3 + c) * H * W, (f * 3 + c + 1) * H * W);
      for (let y = 0; y < latentH; y++) {
        for (let x = 0; x < latentW; x++) {
          let sum = 0;
          for (let dy = 0; dy < 8; dy++)
            for (let dx = 0; dx < 8; dx++) {
              const v = plane[(y * 8 + dy) * W + x * 8 + dx]! / 2 + 0.5;
              sum += Math.min(Math.max(v, 0), 1);
            }
          small[((f * latentH + y) * latentW + x) * 3 + c] = sum / 64;
        }
      }
    }
  }
  return small;
}

/** Applies the map without clamping or upscaling: [F,h,w,3] floats (for fitting and checking). */
export function applyMap(map: LatentRgbMap, x0: Float32Array, frames: number, plane: number): Float32Array {
  const out = new Float32Array(frames * plane * 3);
  for (let f = 0; f < frames; f++)
    for (let p = 0; p < plane; p++)
      for (let c = 0; c < 3; c++) {
        let v = map.bias[c]!;
        for (let k = 0; k < 4; k++) v += map.weights[k]![c]! * x0[(f * 4 + k) * plane + p]!;
        out[(f * plane + p) * 3 + c] = v;
      }
  return out;
}

/** Pearson correlation of two equally long series. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return sab / Math.sqrt(saa * sbb);
}

/** Least squares rgb ≈ [x0, 1] · [W; b] over pairs of latents [N,4,plane] and targets [N,plane,3]. */
export function fitLeastSquares(
  pairs: readonly { x0: Float32Array; rgb: Float32Array; frames: number; plane: number }[],
): LatentRgbMap {
  // Normal equations: (AᵀA) X = AᵀY with A's rows [l0 l1 l2 l3 1].
  const ata = Array.from({ length: 5 }, () => new Float64Array(5));
  const aty = Array.from({ length: 5 }, () => new Float64Array(3));
  const row = new Float64Array(5);
  for (const { x0, rgb, frames, plane } of pairs) {
    for (let f = 0; f < frames; f++)
      for (let p = 0; p < plane; p++) {
        for (let k = 0; k < 4; k++) row[k] = x0[(f * 4 + k) * plane + p]!;
        row[4] = 1;
        for (let i = 0; i < 5; i++) {
          for (let j = 0; j < 5; j++) ata[i]![j]! += row[i]! * row[j]!;
          for (let c = 0; c < 3; c++) aty[i]![c]! += row[i]! * rgb[(f * plane + p) * 3 + c]!;
        }
      }
  }
  const x = solve(ata, aty);
  const r6 = (v: number) => Math.round(v * 1e6) / 1e6;
  const rgbRow = (i: number) => [r6(x[i]![0]!), r6(x[i]![1]!), r6(x[i]![2]!)] as const;
  return { weights: [rgbRow(0), rgbRow(1), rgbRow(2), rgbRow(3)], bias: rgbRow(4) };
}

/** Gauss–Jordan with partial pivoting for a 5×5 system with 3 right-hand sides. */
function solve(a: Float64Array[], b: Float64Array[]): Float64Array[] {
  const n = a.length;
  const m = a.map((r) => Float64Array.from(r));
  const y = b.map((r) => Float64Array.from(r));
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    if (Math.abs(m[pivot]![col]!) < 1e-12)
      throw new Error('calibration latents are degenerate: add --images');
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    [y[col], y[pivot]] = [y[pivot]!, y[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const k = m[r]![col]! / m[col]![col]!;
      for (let j = 0; j < n; j++) m[r]![j]! -= k * m[col]![j]!;
      for (let j = 0; j < 3; j++) y[r]![j]! -= k * y[col]![j]!;
    }
  }
  return y.map((r, i) => r.map((v) => v / m[i]![i]!));
}

/** Built-in calibration pictures: colour fields, gradients and shapes at the model's native size. */
async function builtinPictures(width: number, height: number): Promise<Buffer[]> {
  const svg = (body: string) =>
    sharp(
      Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`,
      ),
    )
      .png()
      .toBuffer();
  const rect = (x: number, y: number, w: number, h: number, fill: string) =>
    `<rect x="${x * width}" y="${y * height}" width="${w * width}" height="${h * height}" fill="${fill}"/>`;
  const colours = [
    '#000',
    '#fff',
    '#f00',
    '#0f0',
    '#00f',
    '#ff0',
    '#0ff',
    '#f0f',
    '#888',
    '#a52',
    '#2a5',
    '#52a',
  ];
  const grid = colours.map((c, i) => rect((i % 4) / 4, Math.floor(i / 4) / 3, 1 / 4, 1 / 3, c)).join('');
  const gradient = (id: string, a: string, b: string, vertical: boolean) =>
    `<defs><linearGradient id="${id}" x2="${vertical ? 0 : 1}" y2="${vertical ? 1 : 0}"><stop offset="0" stop-color="${a}"/><stop offset="1" stop-color="${b}"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#${id})"/>`;
  return Promise.all([
    svg(grid),
    svg(gradient('g1', '#f00', '#00f', false)),
    svg(gradient('g2', '#0f0', '#ff0', true)),
    svg(`${gradient('g3', '#000', '#fff', false)}<circle cx="50%" cy="50%" r="30%" fill="#e83"/>`),
    svg(
      `${rect(0, 0, 1, 1, '#3af')}${rect(0, 0.6, 1, 0.4, '#3a4')}<circle cx="75%" cy="25%" r="12%" fill="#ff8"/>`,
    ),
  ]);
}

export type Calibration = 'encoder' | 'pipeline';

export interface FitReport {
  readonly latent_rgb: LatentRgbMap;
  readonly fit: {
    readonly calibration: Calibration;
    readonly pictures: number;
    readonly pearson_r: readonly number[];
  };
}

interface Sample {
  readonly x0: Float32Array;
  readonly frames: number;
}

/** x0 of each picture from the VAE encoder: its latent mode × the scaling factor, one frame. */
async function encoderSamples(
  model: ModelInfo,
  vae: VaeSessions,
  pictures: readonly Buffer[],
): Promise<Sample[]> {
  const { width, height } = model;
  const out: Sample[] = [];
  for (const picture of pictures) {
    const { rgb } = await loadImage(picture, { width, height });
    const input = vae.encoder.input(4);
    const mode = await vae.encoder.run({
      [input.name]: { data: vaePixels(rgb, width, height), dims: [1, 3, height, width] },
    });
    out.push({ x0: Float32Array.from(mode.data, (v) => v * model.vaeScalingFactor), frames: 1 });
  }
  return out;
}

/** x0 of each picture from a short run of the whole pipeline (6 steps, the model's frames). */
async function pipelineSamples(engine: SvdEngine, pictures: readonly Buffer[]): Promise<Sample[]> {
  const { width, height } = engine.model;
  const out: Sample[] = [];
  for (const [i, picture] of pictures.entries()) {
    const { rgb } = await loadImage(picture, { width, height });
    const options = engine.resolveOptions({ seed: 1000 + i, steps: 6 });
    let last: Float32Array | undefined;
    await runPipeline(engine.model, engine.sessions, {
      rgb,
      width,
      height,
      options,
      onDenoised: (x0) => {
        last = x0.slice();
      },
    });
    out.push({ x0: last!, frames: options.frames });
  }
  return out;
}

/** Decodes the calibration latents with the real decoder and fits the map to them. */
export async function fitPreviewMap(
  model: ModelInfo,
  decoder: ModelSession,
  samples: readonly Sample[],
  calibration: Calibration,
): Promise<FitReport> {
  const latentH = model.height / 8;
  const latentW = model.width / 8;
  const plane = latentH * latentW;
  const pairs: { x0: Float32Array; rgb: Float32Array; frames: number; plane: number }[] = [];
  for (const { x0, frames } of samples) {
    const rgb = await decodeAtLatentRes(decoder, x0, frames, latentH, latentW, model.vaeScalingFactor);
    pairs.push({ x0, rgb, frames, plane });
  }
  const map = fitLeastSquares(pairs);
  const pearsonR = [0, 1, 2].map((c) => {
    const got: number[] = [];
    const want: number[] = [];
    for (const p of pairs) {
      const mapped = applyMap(map, p.x0, p.frames, plane);
      for (let i = c; i < mapped.length; i += 3) {
        got.push(mapped[i]!);
        want.push(p.rgb[i]!);
      }
    }
    return Math.round(pearson(got, want) * 1000) / 1000;
  });
  return { latent_rgb: map, fit: { calibration, pictures: samples.length, pearson_r: pearsonR } };
}

/** The whole fit of one model folder. */
export async function fitModel(
  dir: string,
  opts: { device?: string; images?: readonly Buffer[]; calibrate?: Calibration } = {},
): Promise<FitReport> {
  const model = loadModelInfo(dir);
  const calibration = opts.calibrate ?? (model.randomWeights ? 'pipeline' : 'encoder');
  const pictures = [...(await builtinPictures(model.width, model.height)), ...(opts.images ?? [])];
  process.stderr.write(
    `fit-preview: ${pictures.length} calibration pictures at ${model.width}×${model.height}, ${calibration} latents\n`,
  );
  if (calibration === 'pipeline') {
    const engine = await SvdEngine.load({ modelDir: dir, device: opts.device });
    try {
      return await fitPreviewMap(
        model,
        engine.sessions.vaeDecoder,
        await pipelineSamples(engine, pictures),
        calibration,
      );
    } finally {
      await engine.release();
    }
  }
  const vae = await openVae(model, opts.device);
  return fitPreviewMap(model, vae.decoder, await encoderSamples(model, vae, pictures), calibration);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      device: { type: 'string', default: 'cpu' },
      images: { type: 'string' },
      calibrate: { type: 'string' },
      'dry-run': { type: 'boolean' },
    },
  });
  const dir = positionals[0];
  if (!dir) {
    process.stderr.write(
      'usage: node models/export/fit-preview.ts MODEL_DIR [--device cpu] [--images a.png,b.png] [--calibrate encoder|pipeline] [--dry-run]\n',
    );
    process.exit(2);
  }
  try {
    const calibrate = values.calibrate;
    if (calibrate !== undefined && calibrate !== 'encoder' && calibrate !== 'pipeline')
      throw new Error('--calibrate must be encoder or pipeline');
    const images = (values.images ?? '')
      .split(',')
      .filter(Boolean)
      .map((f) => readFileSync(f));
    const report = await fitModel(dir, { device: values.device, images, calibrate });
    if (!values['dry-run']) {
      const file = path.join(dir, 'model.json');
      const json = JSON.parse(readFileSync(file, 'utf8'));
      json.preview = report;
      writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
    }
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } catch (err) {
    process.stderr.write(`fit-preview: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
