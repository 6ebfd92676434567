/**
 * Runs two ONNX models on the same seeded inputs with onnxruntime-node and prints, as one JSON line on
 * stdout, the largest and mean absolute difference of every output. Used to prove a graph rewrite exact
 * (original vs rewritten on the CPU) and, on a GPU machine, to bound the CUDA error against the CPU.
 *
 *   node models/export/compare-models.ts A.onnx B.onnx [--ep-a cpu] [--ep-b cpu|cuda]
 *        [--dims batch=2,frames=14,latent_height=8,latent_width=16] [--tol 1e-4] [--seed 1]
 *
 * Symbolic dimensions take their value from --dims. Inputs named `timestep` and `added_time_ids` get
 * SVD-like values (0.7; fps-1 = 6, motion 127, noise 0.02); every other float input is uniform in [-1, 1].
 * Exit code 1 when the max abs difference exceeds --tol. onnxruntime-node is loaded from
 * ORT_CUDA_NODE_MODULES when that is set (the device recipe), else from this project's node_modules.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

type Ort = typeof import('onnxruntime-node');

function loadOrt(): Ort {
  const dir = process.env.ORT_CUDA_NODE_MODULES;
  const require = createRequire(import.meta.url);
  return require(dir ? path.join(dir, 'onnxruntime-node') : 'onnxruntime-node') as Ort;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function parseDims(text: string): Map<string, number> {
  const dims = new Map<string, number>();
  for (const part of text.split(',').filter(Boolean)) {
    const [key, value] = part.split('=');
    const n = Number(value);
    if (!key || !Number.isInteger(n) || n <= 0) throw new Error(`--dims: bad entry "${part}"`);
    dims.set(key, n);
  }
  return dims;
}

function makeFeeds(
  ort: Ort,
  session: import('onnxruntime-node').InferenceSession,
  dims: Map<string, number>,
  seed: number,
) {
  const rand = lcg(seed);
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {};
  for (const meta of session.inputMetadata) {
    if (!meta.isTensor || meta.type !== 'float32')
      throw new Error(`input ${meta.name}: only float32 tensors are supported`);
    const shape = meta.shape.map((d) => {
      if (typeof d === 'number' && d > 0) return d;
      const v = dims.get(String(d));
      if (v === undefined)
        throw new Error(`input ${meta.name}: give a value for dimension "${d}" with --dims`);
      return v;
    });
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (meta.name === 'timestep') data.fill(0.7);
    else if (meta.name === 'added_time_ids')
      for (let i = 0; i < size; i++) data[i] = [6, 127, 0.02][i % 3] as number;
    else for (let i = 0; i < size; i++) data[i] = rand() * 2 - 1;
    feeds[meta.name] = new ort.Tensor('float32', data, shape);
  }
  return feeds;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      'ep-a': { type: 'string', default: 'cpu' },
      'ep-b': { type: 'string', default: 'cpu' },
      dims: { type: 'string', default: 'batch=2,frames=14,latent_height=8,latent_width=16' },
      tol: { type: 'string', default: '1e-4' },
      seed: { type: 'string', default: '1' },
    },
  });
  const [fileA, fileB] = positionals;
  if (!fileA || !fileB) throw new Error('usage: compare-models.ts A.onnx B.onnx [options]');
  const ort = loadOrt();
  const dims = parseDims(values.dims);
  const run = async (file: string, ep: string) => {
    const session = await ort.InferenceSession.create(file, { executionProviders: [ep] });
    const feeds = makeFeeds(ort, session, dims, Number(values.seed));
    const t0 = performance.now();
    const out = await session.run(feeds);
    const ms = performance.now() - t0;
    await session.release();
    return { out, ms };
  };
  const a = await run(fileA, values['ep-a']);
  const b = await run(fileB, values['ep-b']);
  let max = 0;
  let sum = 0;
  let count = 0;
  const outputs: Record<string, { max_abs_diff: number; shape: readonly number[] }> = {};
  for (const [name, ta] of Object.entries(a.out)) {
    const tb = b.out[name];
    if (!tb) throw new Error(`output ${name} is missing from ${fileB}`);
    if (ta.dims.join('x') !== tb.dims.join('x'))
      throw new Error(`output ${name}: shape ${ta.dims} vs ${tb.dims}`);
    const da = ta.data as Float32Array;
    const db = tb.data as Float32Array;
    let m = 0;
    for (let i = 0; i < da.length; i++) {
      const d = Math.abs((da[i] as number) - (db[i] as number));
      if (!(d <= m)) m = d; // NaN propagates
      sum += d;
    }
    count += da.length;
    max = Number.isNaN(max) || Number.isNaN(m) ? Number.NaN : Math.max(max, m);
    outputs[name] = { max_abs_diff: m, shape: ta.dims };
  }
  const tol = Number(values.tol);
  const report = {
    a: fileA,
    b: fileB,
    ep_a: values['ep-a'],
    ep_b: values['ep-b'],
    max_abs_diff: max,
    mean_abs_diff: count ? sum / count : 0,
    ms_a: Math.round(a.ms * 10) / 10,
    ms_b: Math.round(b.ms * 10) / 10,
    tol,
    ok: max <= tol,
    outputs,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`compare-models: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
