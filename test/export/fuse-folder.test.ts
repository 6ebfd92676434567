/**
 * models/export/fuse_folder.py: the one-command fix for a model folder exported unfused. It rewrites the
 * graphs in place, records what it did in model.json, leaves external weights untouched, and the engine
 * computes the same video from the fixed folder. Needs python3 with `onnx` (Debian: python3-onnx).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPipeline, SvdEngine } from '../../engine/src/index.ts';
import { loadImage } from '../../engine/src/preprocess.ts';
import { findPythonWithOnnx } from './python.ts';

const exec = promisify(execFile);
const root = path.resolve('.');
const dir = mkdtempSync(path.join(tmpdir(), 'sm-fuse-folder-'));
const fixed = path.join(dir, 'fixed');
let python = '';
let report: {
  attention: { fused: boolean; parts: Record<string, { fused: number; unfused_left: number }> };
  temporal_convs: Record<string, number>;
};

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

beforeAll(async () => {
  python = await findPythonWithOnnx();
  cpSync(path.join(root, 'models/tiny'), fixed, { recursive: true });
  // Store the UNet's weights as external data, as a full-size export does (unet.onnx + unet.onnx.data).
  await exec(python, [
    '-c',
    'import onnx, sys; m = onnx.load(sys.argv[1]); onnx.save_model(m, sys.argv[1], save_as_external_data=True, all_tensors_to_one_file=True, location="unet.onnx.data", size_threshold=1024)',
    path.join(fixed, 'unet.onnx'),
  ]);
  const dataBefore = sha(path.join(fixed, 'unet.onnx.data'));
  const r = await exec(python, ['models/export/fuse_folder.py', fixed], { cwd: root });
  report = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  expect(sha(path.join(fixed, 'unet.onnx.data'))).toBe(dataBefore);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function video(modelDir: string): Promise<Float32Array> {
  const engine = await SvdEngine.load({ modelDir, device: 'cpu' });
  try {
    const rgb = (
      await loadImage(readFileSync('test/fixtures/case_public/input.png'), { width: 128, height: 64 })
    ).rgb;
    const chunks: Float32Array[] = [];
    await runPipeline(engine.model, engine.sessions, {
      rgb,
      width: 128,
      height: 64,
      options: engine.resolveOptions({ seed: 4, frames: 3, steps: 2 }),
      onFrames: (c) => {
        chunks.push(c.slice());
      },
    });
    return Float32Array.from(chunks.flatMap((c) => [...c]));
  } finally {
    await engine.release();
  }
}

describe('fuse_folder.py', () => {
  it('fuses every attention of the UNet and the VAE and records it in model.json', () => {
    expect(report.attention.fused).toBe(true);
    expect(report.attention.parts.unet).toMatchObject({ fused: 16, unfused_left: 0 });
    expect(report.attention.parts.vae_encoder).toMatchObject({ fused: 1, unfused_left: 0 });
    const meta = JSON.parse(readFileSync(path.join(fixed, 'model.json'), 'utf8'));
    expect(meta.attention.fused).toBe(true);
    expect(meta.attention.route).toBe('rewrite');
    // Everything else in model.json is kept.
    expect(meta.name).toBe('svd-tiny (random weights)');
    expect(meta.random_weights).toBe(true);
  });

  it('rewrites every temporal Conv3d (kernel 3×1×1) of the UNet and the VAE decoder as a Conv2d, and records it', async () => {
    expect(report.temporal_convs).toEqual({ image_encoder: 0, vae_encoder: 0, unet: 16, vae_decoder: 19 });
    const meta = JSON.parse(readFileSync(path.join(fixed, 'model.json'), 'utf8'));
    expect(meta.temporal_convs).toEqual(report.temporal_convs);
    const r = await exec(
      python,
      [
        '-c',
        'import onnx, sys; m = onnx.load(sys.argv[1], load_external_data=False); init = {t.name: len(t.dims) for t in m.graph.initializer}; print(sum(1 for n in m.graph.node if n.op_type == "Conv" and init.get(n.input[1]) == 5))',
        path.join(fixed, 'vae_decoder.onnx'),
      ],
      { cwd: root },
    );
    expect(r.stdout.trim()).toBe('0');
  });

  it('rewrites only the graph: the external weights stay byte-identical and the graph file is small', () => {
    // (The hash is checked before and after the fix in beforeAll.)
    expect(statSync(path.join(fixed, 'unet.onnx')).size).toBeLessThan(
      statSync(path.join(fixed, 'unet.onnx.data')).size,
    );
  });

  it('the engine makes the same video from the fixed folder as from the original', async () => {
    const [before, after] = [await video(path.join(root, 'models/tiny')), await video(fixed)];
    expect(after.length).toBe(before.length);
    let max = 0;
    for (let k = 0; k < before.length; k++) max = Math.max(max, Math.abs(before[k]! - after[k]!));
    expect(max).toBeLessThanOrEqual(1e-4);
  }, 60_000);

  it('is idempotent: a second run finds nothing to fuse and leaves the files as they are', async () => {
    const unet = sha(path.join(fixed, 'unet.onnx'));
    const r = await exec(python, ['models/export/fuse_folder.py', fixed], { cwd: root });
    const again = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(again.attention.parts.unet).toMatchObject({ fused: 0, unfused_left: 0, multi_head_attention: 16 });
    expect(again.attention.fused).toBe(true);
    expect(again.temporal_convs).toEqual(report.temporal_convs);
    expect(sha(path.join(fixed, 'unet.onnx'))).toBe(unet);
  });

  it('refuses a folder without model.json, with exit code 2', async () => {
    const err = await exec(python, ['models/export/fuse_folder.py', dir], { cwd: root }).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect((err as { code: number }).code).toBe(2);
    expect((err as { stderr: string }).stderr).toContain('no model.json');
  });
});
