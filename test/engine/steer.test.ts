import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../engine/src/errors.ts';
import {
  type AnimateOptionsInput,
  BUNDLED_MODEL_DIR,
  loadModelInfo,
  resolveOptions,
  runPipeline,
  SvdEngine,
} from '../../engine/src/index.ts';
import { loadImage } from '../../engine/src/preprocess.ts';
import { steerEmbedding } from '../../engine/src/steer.ts';

// Made by test/fixtures/steer/make_steer_fixtures.py: open_clip's token ids, and a float64 NumPy reference.
const tokens = JSON.parse(readFileSync('test/fixtures/steer/tokens.json', 'utf8')) as {
  prompts: { prompt: string; ids: number[] }[];
};
const reference = JSON.parse(readFileSync('test/fixtures/steer/reference.json', 'utf8')) as {
  image_embeds: number[];
  cases: { prompt: string; text_embeds: number[]; steered: Record<string, number[]> }[];
};
const clipPixels = f32('test/fixtures/case_public/clip_pixel_values.f32');
const width = 128;
const height = 64;

function f32(file: string): Float32Array {
  const b = readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!));
  return m;
}

let engine: SvdEngine;
let plain: SvdEngine;
let plainDir: string;
let rgb: Uint8Array;

beforeAll(async () => {
  // The bundled model without its text encoder: the four SVD parts and a model.json with no text_encoder.
  plainDir = mkdtempSync(path.join(tmpdir(), 'sm-no-text-'));
  cpSync(BUNDLED_MODEL_DIR, plainDir, { recursive: true });
  const meta = JSON.parse(readFileSync(path.join(plainDir, 'model.json'), 'utf8'));
  delete meta.text_encoder;
  writeFileSync(path.join(plainDir, 'model.json'), JSON.stringify(meta));
  rmSync(path.join(plainDir, 'text_encoder.onnx'));
  [engine, plain] = await Promise.all([
    SvdEngine.load({ device: 'cpu' }),
    SvdEngine.load({ device: 'cpu', modelDir: plainDir }),
  ]);
  rgb = (await loadImage(readFileSync('test/fixtures/case_public/input.png'), { width, height })).rgb;
});
afterAll(async () => {
  await Promise.all([engine.release(), plain.release()]);
  rmSync(plainDir, { recursive: true, force: true });
});

async function run(e: SvdEngine, input: AnimateOptionsInput, withFixturePixels = false) {
  const out: Float32Array[] = [];
  const result = await runPipeline(e.model, e.sessions, {
    rgb,
    width,
    height,
    options: e.resolveOptions({ seed: 7, frames: 3, steps: 2, ...input }),
    ...(withFixturePixels ? { clipPixels } : {}),
    onFrames: (chunk) => {
      out.push(chunk.slice());
    },
  });
  return { ...result, frames: Float32Array.from(out.flatMap((c) => [...c])) };
}

describe('the CLIP tokenizer (tokenizer.json through @huggingface/tokenizers)', () => {
  it("gives open_clip's own ids for real prompts, truncation to 77 included", () => {
    const te = engine.sessions.textEncoder!;
    expect(tokens.prompts.length).toBeGreaterThanOrEqual(9);
    for (const { prompt, ids } of tokens.prompts) expect(te.tokenize(prompt), prompt).toEqual(ids);
    expect(tokens.prompts.some((p) => p.ids.length === 77)).toBe(true);
  });
});

describe('steer', () => {
  it('matches the Python reference of e′ = |e|·normalize((1−s)ê + s·t̂) on the tiny model to 1e-5', async () => {
    let worst = 0;
    for (const c of reference.cases) {
      const text = await engine.sessions.textEncoder!.embed(c.prompt);
      expect(maxAbs(text, c.text_embeds)).toBeLessThan(1e-5);
      for (const [s, expected] of Object.entries(c.steered)) {
        const r = await run(engine, { prompt: c.prompt, steer: s, frames: 2, steps: 1 }, true);
        expect(maxAbs(r.imageEmbeds, reference.image_embeds)).toBeLessThan(1e-5);
        const err = maxAbs(r.conditioning, expected);
        worst = Math.max(worst, err);
        expect(err, `${c.prompt} at steer ${s}`).toBeLessThan(1e-5);
      }
    }
    process.stderr.write(`steer vs the Python reference: max abs error ${worst.toExponential(2)}\n`);
  });

  it('keeps the norm of the image embedding, and steer 1 points along the text embedding', () => {
    const e = Float32Array.from(reference.image_embeds);
    const t = Float32Array.from(reference.cases[0]!.text_embeds);
    const norm = (v: Float32Array) => Math.hypot(...v);
    for (const s of [0.1, 0.5, 1]) expect(norm(steerEmbedding(e, t, s))).toBeCloseTo(norm(e), 4);
    const one = steerEmbedding(e, t, 1);
    expect(
      maxAbs(
        one,
        Array.from(t, (x) => (x * norm(e)) / norm(t)),
      ),
    ).toBeLessThan(1e-5);
  });

  it('steer 0 gives bit-identical embeddings and frames to a model without a text encoder', async () => {
    const prompt = 'waves crashing on the rocks';
    const [on, off, none] = await Promise.all([
      run(engine, { prompt, steer: 0 }),
      run(engine, { prompt }),
      run(plain, { prompt }),
    ]);
    expect(on.conditioning).toBe(on.imageEmbeds);
    expect(on.conditioning).toEqual(none.conditioning);
    expect(on.frames).toEqual(none.frames);
    expect(off.frames).toEqual(none.frames);
    const steered = await run(engine, { prompt, steer: 0.5 });
    expect(steered.imageEmbeds).toEqual(on.imageEmbeds);
    expect(steered.frames).not.toEqual(on.frames);
  });

  it('is refused above 0 on a model without a text encoder, naming the option and what to export', async () => {
    const model = loadModelInfo(plainDir);
    expect(model.steerable).toBe(false);
    const attempt = () => resolveOptions({ prompt: 'a cat', steer: '0.3' }, model);
    expect(attempt).toThrow(OptionError);
    expect(attempt).toThrow(/steer needs a CLIP text encoder.*export_svd\.py --text-encoder/);
    try {
      attempt();
    } catch (err) {
      expect((err as OptionError).option).toBe('steer');
    }
    // The pipeline refuses too, for options resolved without knowing the model.
    const options = resolveOptions(
      { prompt: 'a cat', steer: 0.3, frames: 2, steps: 1 },
      { ...model, steerable: undefined },
    );
    await expect(runPipeline(model, plain.sessions, { rgb, width, height, options })).rejects.toThrow(
      /steer needs a CLIP text encoder/,
    );
    // steer 0 still runs there.
    expect(resolveOptions({ prompt: 'a cat', steer: 0 }, model).steer).toBe(0);
  });

  it('is 0–1, never clamped, and needs a prompt', () => {
    const model = loadModelInfo();
    expect(model.steerable).toBe(true);
    expect(resolveOptions({}, model).steer).toBe(0);
    expect(resolveOptions({ prompt: 'a cat', steer: '0.25' }, model).steer).toBe(0.25);
    for (const bad of ['1.5', '-0.1', 'lots']) {
      expect(() => resolveOptions({ prompt: 'a cat', steer: bad }, model)).toThrow(/steer must be in 0–1/);
    }
    expect(() => resolveOptions({ steer: 0.5 }, model)).toThrow(/needs a prompt/);
  });
});
