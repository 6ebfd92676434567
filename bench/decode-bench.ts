/**
 * `node bench/decode-bench.ts --model DIR [--chunk 1] [--calls 2] [--arena 1] [--mem-pattern 0|1] [--threads N] [--profile PREFIX]`
 *
 * The VAE decoder alone, as the pipeline calls it: `calls` calls of `chunk` frames of random latents at
 * the model's native size, one session with the CPU memory arena on or off. Prints one JSON line: the
 * session load, each call's milliseconds, and the process's peak RSS. Run it under `/usr/bin/time -v`
 * for the same peak from outside. `--profile` writes onnxruntime's per-node profile (Chrome trace JSON)
 * and adds the ten op types that took the most time to the line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadModelInfo, NormalRng } from '@stillmotion/engine';
import { loadOrt } from '../engine/src/runtime.ts';

interface ProfileEvent {
  cat?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Microseconds per op type in an onnxruntime profile, largest first. */
export function opTotals(events: readonly ProfileEvent[], top = 10): [string, number][] {
  const byOp = new Map<string, number>();
  for (const e of events) {
    const op = e.args?.op_name;
    if (e.cat !== 'Node' || !op || e.dur === undefined) continue;
    byOp.set(op, (byOp.get(op) ?? 0) + e.dur);
  }
  return [...byOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
}

/** onnxruntime names the profile `PREFIX_<date>_<time>.json`; the newest one is this run's. */
function newestProfile(prefix: string): string {
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json'))
    .map((f) => path.join(dir, f));
  return files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0]!;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      chunk: { type: 'string', default: '1' },
      calls: { type: 'string', default: '2' },
      arena: { type: 'string', default: '1' },
      /** onnxruntime's memory pattern (one pre-planned block per input shape); default: as the arena. */
      'mem-pattern': { type: 'string' },
      threads: { type: 'string' },
      profile: { type: 'string' },
    },
  });
  if (!values.model) {
    process.stderr.write(
      'usage: node bench/decode-bench.ts --model DIR [--chunk N] [--calls N] [--arena 0|1] [--mem-pattern 0|1]\n',
    );
    process.exit(2);
  }
  const model = loadModelInfo(values.model);
  const ort = await loadOrt();
  const arena = values.arena !== '0';
  const chunk = Number(values.chunk);
  let t = performance.now();
  const session = await ort.InferenceSession.create(model.files.vae_decoder, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableCpuMemArena: arena,
    enableMemPattern: values['mem-pattern'] === undefined ? arena : values['mem-pattern'] !== '0',
    ...(values.threads ? { intraOpNumThreads: Number(values.threads) } : {}),
    ...(values.profile ? { enableProfiling: true, profileFilePrefix: values.profile } : {}),
    logSeverityLevel: 3,
  });
  const load_ms = performance.now() - t;
  const h = model.height / 8;
  const w = model.width / 8;
  const rng = new NormalRng(3);
  const call_ms: number[] = [];
  for (let c = 0; c < Number(values.calls); c++) {
    const latents = rng.randn(chunk * 4 * h * w);
    t = performance.now();
    const out = await session.run({
      [session.inputNames[0]!]: new ort.Tensor('float32', latents, [chunk, 4, h, w]),
    });
    call_ms.push(Math.round(performance.now() - t));
    for (const v of Object.values(out)) v.dispose();
    process.stderr.write(`decode-bench: call ${c + 1}: ${call_ms.at(-1)} ms\n`);
  }
  let top_ops: [string, number][] | undefined;
  if (values.profile) {
    session.endProfiling();
    const file = newestProfile(values.profile);
    const events = JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[];
    top_ops = opTotals(events).map(([op, us]) => [op, Math.round(us / 1000)]);
  }
  await session.release();
  process.stdout.write(
    `${JSON.stringify({
      width: model.width,
      height: model.height,
      chunk,
      arena,
      mem_pattern: values['mem-pattern'] === undefined ? arena : values['mem-pattern'] !== '0',
      load_ms: Math.round(load_ms),
      call_ms,
      per_frame_ms: Math.round(Math.min(...call_ms) / chunk),
      peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
      ...(top_ops ? { top_ops_ms: top_ops } : {}),
    })}\n`,
  );
}
