/**
 * `npm run bench:peer -- --model DIR [--frames 2] [--steps 1] [--threads N] [--side both|stillmotion|diffusers] [--runs N] [--out FILE]`
 *
 * stillmotion and diffusers on the same machine, one after the other, in one run: the same
 * architecture and weights (DIR is `export_svd.py --random-weights` output, and diffusers builds the
 * same modules from the same configs and seed, bench/gpu/diffusers_bench.py), the same job (1024×576
 * picture, frames, steps, default guidance 1-3, the decode chunk stillmotion's memory plan chose) and
 * the same thread count. Each side warms up at the smallest shape, then runs the job once in its own
 * process, so each peak RSS is that process's alone. Prints one JSON line (and writes it to --out):
 * both sides' milliseconds per stage, peak RSS, and the ratios stillmotion / diffusers.
 *
 * Needs a Python with torch, transformers and diffusers: PYTHON (default python3) and DIFFUSERS_SRC
 * (a diffusers checkout's src folder) when diffusers is not installed. Progress goes to stderr.
 *
 * `--side stillmotion` (or `diffusers`) runs one side only and prints that side's own report, to
 * measure variants (SVD_* settings in the environment) without rerunning the other side; the decode
 * chunk for a diffusers-only run is `--decode-chunk` (default 1). Every line carries `run`: the
 * command, the git commit, the SVD_* settings and the load average before and after.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BenchReport } from '../src/cli/bench.ts';

/** The fields of stillmotion's bench report (src/cli/bench.ts) that the comparison uses. */
export type StillmotionRun = Pick<
  BenchReport,
  | 'frames'
  | 'steps'
  | 'width'
  | 'height'
  | 'load_ms'
  | 'warmup_ms'
  | 'clip_ms'
  | 'vae_encode_ms'
  | 'unet_step_ms'
  | 'vae_decode_ms'
  | 'peak_rss_mb'
  | 'peak_rss_by_stage_mb'
  | 'cpu_s'
  | 'decode_chunk'
  | 'sequential_guidance'
  | 'unload_once_used'
>;

export interface DiffusersReport {
  unet_step_ms: number;
  unet_calls_per_run: number;
  clip_ms: number;
  vae_encode_ms: number;
  vae_decode_ms: number;
  load_ms: number;
  pipeline_ms: number;
  total_s: number;
  peak_rss_mb: number;
  cpu_s: number;
  threads: number;
  decode_chunk_size: number;
  torch: string;
}

export interface PeerReport {
  machine: { cpus: number; threads: number };
  date: string;
  shape: { frames: number; steps: number; width: number; height: number; guidance: string };
  decode_chunk: number;
  stillmotion: {
    load_ms: number;
    warmup_ms: number;
    clip_ms: number;
    vae_encode_ms: number;
    unet_step_ms: number;
    vae_decode_ms: number;
    /** The job: encoders, denoising and decode (what diffusers' pipeline call covers). */
    pipeline_ms: number;
    sequential_guidance: boolean;
    unload_once_used: boolean;
    peak_rss_mb: number;
    /** Sampled every 100 ms: where the peak is (src/cli/bench.ts). */
    peak_rss_by_stage_mb?: StillmotionRun['peak_rss_by_stage_mb'];
    /** CPU seconds (user + system, all threads) of the job. */
    cpu_s: number;
  };
  diffusers: {
    load_ms: number;
    clip_ms: number;
    vae_encode_ms: number;
    unet_step_ms: number;
    vae_decode_ms: number;
    pipeline_ms: number;
    peak_rss_mb: number;
    cpu_s: number;
  };
  /** stillmotion / diffusers: the goals are time ≤ 0.6 and memory ≤ 1.0. */
  ratios: { pipeline: number; unet_step: number; vae_decode: number; peak_rss: number; cpu: number };
  goals: { time_le_0_6: boolean; memory_le_1_0: boolean };
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** What a results file must say about how it was made. */
export interface RunRecord {
  command: string;
  commit: string;
  settings: Record<string, string>;
  load_avg_before: number[];
  load_avg_after: number[];
}

/** The command line, the commit (with `+dirty` for uncommitted changes) and the SVD_* settings. */
export function runRecord(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  root: string,
  before: number[],
): RunRecord {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
  const settings = Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[0].startsWith('SVD_') && e[1] !== undefined),
  );
  return {
    command: argv.join(' '),
    commit: `${git('rev-parse', '--short', 'HEAD') || 'unknown'}${dirty ? '+dirty' : ''}`,
    settings,
    load_avg_before: before.map((x) => round(x, 2)),
    load_avg_after: loadavg().map((x) => round(x, 2)),
  };
}

/** Runs a command, streams its stderr through, and parses the last line of its stdout as JSON. */
function runJson<T>(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as T);
      } catch {
        reject(new Error(`${cmd} printed no JSON line: ${out.slice(-300)}`));
      }
    });
  });
}

/** Combines the two reports into the results file. Pure, so the arithmetic is tested on its own. */
export function peerReport(
  s: StillmotionRun,
  d: DiffusersReport,
  threads: number,
  date: string,
  cpus: number,
): PeerReport {
  const sPipeline = s.clip_ms + s.vae_encode_ms + s.unet_step_ms * s.steps + s.vae_decode_ms;
  const ratios = {
    pipeline: round(sPipeline / d.pipeline_ms),
    unet_step: round(s.unet_step_ms / (d.unet_step_ms * (d.unet_calls_per_run / s.steps))),
    vae_decode: round(s.vae_decode_ms / d.vae_decode_ms),
    peak_rss: round(s.peak_rss_mb / d.peak_rss_mb),
    cpu: round(s.cpu_s / d.cpu_s),
  };
  return {
    machine: { cpus, threads },
    date,
    shape: { frames: s.frames, steps: s.steps, width: s.width, height: s.height, guidance: '1-3' },
    decode_chunk: s.decode_chunk,
    stillmotion: {
      load_ms: s.load_ms,
      warmup_ms: s.warmup_ms,
      clip_ms: s.clip_ms,
      vae_encode_ms: s.vae_encode_ms,
      unet_step_ms: s.unet_step_ms,
      vae_decode_ms: s.vae_decode_ms,
      pipeline_ms: round(sPipeline, 2),
      sequential_guidance: s.sequential_guidance,
      unload_once_used: s.unload_once_used,
      peak_rss_mb: s.peak_rss_mb,
      peak_rss_by_stage_mb: s.peak_rss_by_stage_mb,
      cpu_s: s.cpu_s,
    },
    diffusers: {
      load_ms: d.load_ms,
      clip_ms: round(d.clip_ms, 2),
      vae_encode_ms: round(d.vae_encode_ms, 2),
      // diffusers calls its UNet once per step with the guidance batch: its per-step time.
      unet_step_ms: round(d.unet_step_ms * (d.unet_calls_per_run / s.steps), 2),
      vae_decode_ms: round(d.vae_decode_ms, 2),
      pipeline_ms: round(d.pipeline_ms, 2),
      peak_rss_mb: d.peak_rss_mb,
      cpu_s: d.cpu_s,
    },
    ratios,
    goals: { time_le_0_6: ratios.pipeline <= 0.6, memory_le_1_0: ratios.peak_rss <= 1.0 },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      frames: { type: 'string', default: '2' },
      steps: { type: 'string', default: '1' },
      threads: { type: 'string' },
      side: { type: 'string', default: 'both' },
      /** stillmotion's job runs (its report's run_total_ms shows what the first job pays after the warm-up). */
      runs: { type: 'string', default: '1' },
      'decode-chunk': { type: 'string', default: '1' },
      out: { type: 'string' },
    },
  });
  const side = values.side;
  if (!values.model || !['both', 'stillmotion', 'diffusers'].includes(side ?? '')) {
    process.stderr.write(
      'usage: npm run bench:peer -- --model DIR [--frames 2] [--steps 1] [--threads N] [--side both|stillmotion|diffusers] [--out FILE]\n',
    );
    process.exit(2);
  }
  const threads = Number(values.threads ?? availableParallelism());
  const root = path.resolve(import.meta.dirname, '..');
  const log = (m: string) => process.stderr.write(`bench:peer: ${m}\n`);
  const loadBefore = loadavg();
  const write = (report: object) => {
    const full = { ...report, run: runRecord(process.argv.slice(1), process.env, root, loadBefore) };
    if (values.out) {
      mkdirSync(path.dirname(values.out), { recursive: true });
      writeFileSync(values.out, `${JSON.stringify(full, null, 2)}\n`);
    }
    process.stdout.write(`${JSON.stringify(full)}\n`);
  };
  try {
    const s = side === 'diffusers' ? undefined : await runStillmotion();
    if (side === 'stillmotion') {
      write(s!);
    } else {
      const d = await runDiffusers(
        s?.width ?? 1024,
        s?.height ?? 576,
        s?.decode_chunk ?? Number(values['decode-chunk']),
      );
      write(s ? peerReport(s, d, threads, new Date().toISOString().slice(0, 10), availableParallelism()) : d);
    }
  } catch (err) {
    log(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }

  async function runStillmotion(): Promise<StillmotionRun> {
    log(`stillmotion: ${values.frames} frames, ${values.steps} steps, ${threads} threads`);
    return runJson<StillmotionRun>(
      process.execPath,
      [
        path.join(root, 'src/cli/bench.ts'),
        '--model',
        values.model!,
        '--device',
        'cpu',
        '--frames',
        values.frames,
        '--steps',
        values.steps,
        '--runs',
        values.runs!,
        '--skip-video',
      ],
      { ...process.env, SVD_THREADS: String(threads) },
    );
  }

  async function runDiffusers(width: number, height: number, chunk: number): Promise<DiffusersReport> {
    log(`diffusers: the same job, decode chunk ${chunk}`);
    return runJson<DiffusersReport>(
      process.env.PYTHON ?? 'python3',
      [
        path.join(root, 'bench/gpu/diffusers_bench.py'),
        '--device',
        'cpu',
        '--dtype',
        'fp32',
        '--frames',
        values.frames,
        '--steps',
        values.steps,
        '--width',
        String(width),
        '--height',
        String(height),
        '--decode-chunk-size',
        String(chunk),
        '--runs',
        '1',
        '--warmup',
        'small',
        '--threads',
        String(threads),
      ],
      process.env,
    );
  }
}
