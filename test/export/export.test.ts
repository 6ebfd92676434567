/**
 * models/export and bench/gpu: the Python scripts compile, export_svd.py --help runs without torch,
 * the attention rewrite finds every attention of the tiny SVD UNet, leaves a valid model whose other
 * nodes are untouched, and computes the same noise_pred on onnxruntime-node (the proof it is exact).
 * Needs python3 with the `onnx` package (Debian: python3-onnx).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPythonWithOnnx } from './python.ts';

const exec = promisify(execFile);
const root = path.resolve('.');
const tiny = path.join(root, 'models/tiny');
const dir = mkdtempSync(path.join(tmpdir(), 'sm-export-'));
let python = '';

beforeAll(async () => {
  python = await findPythonWithOnnx();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const pyScripts = [
  'models/export/export_svd.py',
  'models/export/optimize_cuda.py',
  'models/export/fuse_attention.py',
  'models/export/fuse_folder.py',
  'models/export/temporal_conv.py',
  'bench/gpu/diffusers_bench.py',
  'models/export/export_text_encoder.py',
  'test/fixtures/steer/make_steer_fixtures.py',
  'bench/gpu/sample_vram.py',
  'bench/gpu/write_results.py',
];

describe('scripts parse', () => {
  it('every Python script byte-compiles', async () => {
    for (const script of pyScripts) {
      // PYTHONPYCACHEPREFIX keeps the byte code out of the source tree.
      const r = await exec(python, ['-m', 'py_compile', script], {
        cwd: root,
        env: { ...process.env, PYTHONPYCACHEPREFIX: dir },
      });
      expect(r.stderr).toBe('');
    }
  });

  it('bench/gpu/run.sh passes bash -n', async () => {
    const r = await exec('bash', ['-n', 'bench/gpu/run.sh'], { cwd: root });
    expect(r.stderr).toBe('');
  });

  it('bench/gpu/bundle.sh builds a bench that runs without the project node_modules, as on the device', async () => {
    const r = await exec('bash', ['bench/gpu/bundle.sh', '--check'], { cwd: root, timeout: 180_000 });
    const report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ provider: 'cpu', frames: 2, steps: 1 });
    expect(report.unet_step_ms).toBeGreaterThan(0);
    expect(report.video_ms).toBeLessThan(1); // --skip-video: the device image has no ffmpeg
  });

  it('export_svd.py --help works without torch and lists the flags', async () => {
    const r = await exec(python, ['models/export/export_svd.py', '--help'], { cwd: root });
    for (const flag of [
      '--precision',
      '--optimize-cuda',
      '--random-weights',
      '--out',
      '--no-fuse',
      '--text-encoder',
      '--unet-weights',
      '--scheduler',
    ])
      expect(r.stdout).toContain(flag);
  });

  it('export_svd.py refuses --only text_encoder without --text-encoder DIR, before importing torch', async () => {
    const err = await exec(python, ['models/export/export_svd.py', '--only', 'text_encoder', '--out', dir], {
      cwd: root,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain('--only text_encoder needs --text-encoder DIR');
  });

  it('export_svd.py refuses --optimize-cuda with fp32 before importing torch', async () => {
    const err = await exec(
      python,
      ['models/export/export_svd.py', 'x', '--out', dir, '--precision', 'fp32', '--optimize-cuda'],
      {
        cwd: root,
      },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain('--optimize-cuda makes an fp16 CUDA model');
  });

  it('export_svd.py refuses --unet-weights that is not a .safetensors file, before importing torch', async () => {
    for (const file of [path.join(dir, 'missing.safetensors'), path.join(root, 'package.json')]) {
      const err = await exec(
        python,
        ['models/export/export_svd.py', 'x', '--out', dir, '--unet-weights', file],
        {
          cwd: root,
        },
      ).catch((e: { code: number; stderr: string }) => e);
      expect((err as { code: number }).code).toBe(2);
      expect((err as { stderr: string }).stderr).toContain(
        '--unet-weights needs an existing .safetensors file',
      );
    }
  });
});

describe('export_svd.py option checks (before torch is imported)', () => {
  it('refuses --no-fuse with --optimize-cuda, which fuses the UNet', async () => {
    const err = await exec(
      python,
      ['models/export/export_svd.py', 'x', '--out', dir, '--optimize-cuda', '--no-fuse'],
      { cwd: root },
    ).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain('cannot be combined with --no-fuse');
  });
});

interface Inspection {
  softmax_attention: number;
  mha: { name: string; num_heads: number; inputs: string[]; domain: string }[];
  removed: string[];
  removed_outside_attention: string[];
  changed: string[];
  nodes: number;
  initializers_changed: number;
  opsets: Record<string, number>;
  io: string[];
}

describe('attention rewrite on the tiny UNet', () => {
  const out = path.join(dir, 'unet-mha.onnx');
  let report: Record<string, unknown>;
  let inspection: Inspection;

  beforeAll(async () => {
    const r = await exec(
      python,
      [
        'models/export/optimize_cuda.py',
        path.join(tiny, 'unet.onnx'),
        out,
        '--route',
        'rewrite',
        '--no-fp16',
      ],
      {
        cwd: root,
      },
    );
    report = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    const i = await exec(python, ['test/export/inspect_rewrite.py', path.join(tiny, 'unet.onnx'), out], {
      cwd: root,
    });
    inspection = JSON.parse(i.stdout);
  });

  it('finds the 16 attentions: 4 transformer models x (spatial + temporal) x (self + cross)', () => {
    expect(report.unfused_attention_before_rewrite).toBe(16);
    expect(report.rewrite_fused).toBe(16);
    expect(report.unfused_attention_left).toBe(0);
    expect(inspection.softmax_attention).toBe(0);
    expect(inspection.mha).toHaveLength(16);
    const spatial = inspection.mha.filter((m) => m.name.includes('/transformer_blocks.'));
    const temporal = inspection.mha.filter((m) => m.name.includes('/temporal_transformer_blocks.'));
    expect(spatial).toHaveLength(8);
    expect(temporal).toHaveLength(8);
    expect(inspection.mha.filter((m) => m.name.endsWith('/attn1/MultiHeadAttention'))).toHaveLength(8);
    expect(inspection.mha.filter((m) => m.name.endsWith('/attn2/MultiHeadAttention'))).toHaveLength(8);
  });

  it('reads the head count of each block from the graph (2 in the first level, 4 in the second)', () => {
    const heads = (prefix: string) =>
      inspection.mha.filter((m) => m.name.startsWith(prefix)).map((m) => m.num_heads);
    expect(new Set(heads('/m/down_blocks.0/'))).toEqual(new Set([2]));
    expect(new Set(heads('/m/mid_block/'))).toEqual(new Set([4]));
    expect(new Set(heads('/m/up_blocks.1/'))).toEqual(new Set([2]));
  });

  it('feeds the Q, K and V projections straight into com.microsoft MultiHeadAttention', () => {
    for (const m of inspection.mha) {
      expect(m.domain).toBe('com.microsoft');
      expect(m.inputs).toHaveLength(3);
      expect(m.inputs[0]).toMatch(/to_q\/MatMul_output_0$/);
      expect(m.inputs[1]).toMatch(/to_k\/MatMul_output_0$/);
      expect(m.inputs[2]).toMatch(/to_v\/MatMul_output_0$/);
    }
    expect(inspection.opsets['com.microsoft']).toBe(1);
    expect(inspection.opsets['']).toBe(17);
  });

  it('passes onnx.checker, keeps the I/O and leaves every other node and all weights unchanged', () => {
    expect(inspection.io).toEqual([
      'sample',
      'timestep',
      'encoder_hidden_states',
      'added_time_ids',
      'noise_pred',
    ]);
    expect(inspection.changed).toEqual([]);
    expect(inspection.initializers_changed).toBe(0);
    // Only attention internals went away: the Softmax/MatMul core and the head-split arithmetic.
    expect(inspection.removed.length).toBeGreaterThan(16 * 12);
    expect(inspection.removed_outside_attention).toEqual([]);
    expect(inspection.removed.filter((n) => n.endsWith('/Softmax'))).toHaveLength(16);
    expect(inspection.removed.some((n) => /to_[qkv]\/MatMul$/.test(n))).toBe(false);
  });

  it('computes the same noise_pred as the original on onnxruntime-node (max abs diff <= 1e-4)', async () => {
    const r = await exec(
      'node',
      ['models/export/compare-models.ts', path.join(tiny, 'unet.onnx'), out, '--tol', '1e-4'],
      { cwd: root },
    );
    const cmp = JSON.parse(r.stdout.trim());
    expect(cmp.ok).toBe(true);
    expect(cmp.max_abs_diff).toBeLessThanOrEqual(1e-4);
    expect(cmp.outputs.noise_pred.shape).toEqual([2, 14, 4, 8, 16]);
  });

  it('the comparison catches a wrong rewrite (one attention with the wrong head count)', async () => {
    const bad = path.join(dir, 'unet-bad.onnx');
    await exec(python, ['test/export/inspect_rewrite.py', '--corrupt-heads', out, bad], { cwd: root });
    const err = await exec(
      'node',
      ['models/export/compare-models.ts', path.join(tiny, 'unet.onnx'), bad, '--tol', '1e-4'],
      {
        cwd: root,
      },
    ).catch((e: { code: number; stdout: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect(JSON.parse((err as { stdout: string }).stdout).max_abs_diff).toBeGreaterThan(1e-3);
  });

  it('never writes into models/tiny', () => {
    const onnxFiles = readdirSync(tiny)
      .filter((f) => f.includes('.onnx'))
      .sort();
    expect(onnxFiles).toEqual([
      'image_encoder.onnx',
      'text_encoder.onnx',
      'unet.onnx',
      'vae_decoder.onnx',
      'vae_encoder.onnx',
    ]);
    expect(statSync(path.join(tiny, 'unet.onnx')).size).toBe(6058969);
    expect(readFileSync(path.join(tiny, 'model.json'), 'utf8')).toContain('"random_weights": true');
  });
});
