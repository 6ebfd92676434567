/**
 * bench/gpu helpers on the CPU: the results file has the schema of the GPU issue, the video step can be
 * replaced by one timed where ffmpeg exists, and the VRAM sampler passes the command's exit code through.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPythonWithOnnx } from './python.ts';

const exec = promisify(execFile);
const root = path.resolve('.');
const dir = mkdtempSync(path.join(tmpdir(), 'sm-bench-gpu-'));
let python = '';
beforeAll(async () => {
  python = await findPythonWithOnnx();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const stillmotion = {
  model: 'svd-xt (random weights)',
  provider: 'cuda',
  frames: 25,
  steps: 25,
  width: 1024,
  height: 576,
  runs: 2,
  preprocess_ms: 10,
  clip_ms: 8,
  vae_encode_ms: 30,
  unet_step_ms: 400,
  vae_decode_ms: 1500,
  video_ms: 0,
  total_ms: 12000,
  peak_rss_mb: 3000,
};
const diffusers = {
  unet_step_ms: 631,
  vae_decode_ms: 2110,
  total_s: 17.9,
  video_ms: null,
  note: 'no writer',
};

function write(name: string, value: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${JSON.stringify(value)}\n`);
  return file;
}

describe('bench/gpu/write_results.py', () => {
  it('writes <date>-<gpu>.json with the issue schema, ratios and the video note', async () => {
    const out = path.join(dir, 'results');
    const r = await exec(
      python,
      [
        'bench/gpu/write_results.py',
        '--out-dir',
        out,
        '--device',
        'NVIDIA H100 80GB HBM3',
        '--stillmotion',
        write('sm.json', stillmotion),
        '--stillmotion-vram',
        write('smv.json', { peak_gib: 9.5 }),
        '--diffusers',
        write('df.json', diffusers),
        '--diffusers-vram',
        write('dfv.json', { peak_gib: 14.25 }),
        '--video-ms',
        '800',
      ],
      { cwd: root },
    );
    const file = r.stdout.trim();
    expect(path.basename(file)).toMatch(/^\d{4}-\d{2}-\d{2}-nvidia-h100-80gb-hbm3\.json$/);
    const res = JSON.parse(readFileSync(file, 'utf8'));
    expect(res.device).toBe('NVIDIA H100 80GB HBM3');
    expect(res.date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(res.model).toBe('svd-xt (random weights)');
    expect(res.shape).toEqual({ frames: 25, width: 1024, height: 576, steps: 25 });
    expect(res.stillmotion).toEqual({
      clip_ms: 8,
      vae_encode_ms: 30,
      unet_step_ms: 400,
      vae_decode_ms: 1500,
      video_ms: 800,
      total_s: 12.8,
      peak_vram_gib: 9.5,
    });
    expect(res.diffusers).toEqual({
      unet_step_ms: 631,
      vae_decode_ms: 2110,
      total_s: 17.9,
      peak_vram_gib: 14.25,
    });
    expect(res.ratios).toEqual({ total: 0.715, unet_step: 0.634 });
    expect(res.notes.join(' ')).toContain('measured where ffmpeg exists');
    expect(res.notes.join(' ')).toContain('excludes export_to_video');
  });
});

describe('bench/gpu/sample_vram.py', () => {
  it('runs the command, returns its exit code and writes the peak file (null without nvidia-smi)', async () => {
    const peak = path.join(dir, 'peak.json');
    const err = await exec(python, ['bench/gpu/sample_vram.py', peak, '--', 'sh', '-c', 'echo hi; exit 3'], {
      cwd: root,
      env: { ...process.env, PATH: '/usr/bin:/bin' },
    }).catch((e: { code: number; stdout: string }) => e);
    expect((err as { code: number }).code).toBe(3);
    expect((err as { stdout: string }).stdout).toBe('hi\n');
    expect(JSON.parse(readFileSync(peak, 'utf8'))).toEqual({
      peak_mib: null,
      baseline_mib: null,
      peak_gib: null,
      samples: 0,
    });
  });
});
