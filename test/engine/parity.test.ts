import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

const LCM_MODEL = 'test/fixtures/tiny-animatelcm';
const LCM_CASE = 'test/fixtures/case_animatelcm';

async function parity(caseDir: string, modelDir = 'models/tiny', ...flags: string[]) {
  try {
    const { stdout, stderr } = await run('npm', [
      'run',
      '--silent',
      'parity',
      '--',
      modelDir,
      caseDir,
      ...flags,
    ]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run parity', () => {
  it('reproduces diffusers on the public case within 2e-3, printing one JSON line last on stdout', async () => {
    const { code, stdout, stderr } = await parity('test/fixtures/case_public');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    const report = JSON.parse(lines.at(-1)!);
    expect(report.max_abs_err).toBeLessThanOrEqual(2e-3);
    // Our engine matches to float32 rounding, far inside the bar.
    expect(report.max_abs_err).toBeLessThan(1e-4);
    expect(report.mean_abs_err).toBeLessThan(1e-5);
    expect(report.clip_pixel_values_max_abs_err).toBeLessThan(1e-5);
    expect(report.image_embeds_max_abs_err).toBeLessThan(1e-5);
    expect(report.image_latents_max_abs_err).toBeLessThan(1e-5);
    expect(stderr).toContain('denoise');
  });

  it('matches diffusers as well with the guidance halves run one after the other (low-memory mode)', async () => {
    const { code, stdout } = await parity(
      'test/fixtures/case_public',
      'models/tiny',
      '--sequential-guidance',
    );
    expect(code).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report.max_abs_err).toBeLessThan(1e-4);
    expect(report.pass).toBe(true);
  });

  it('reports null for stages the case lacks, and fails (exit 1) when frames differ beyond the bar', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sm-case-'));
    try {
      cpSync('test/fixtures/case_public', dir, { recursive: true });
      for (const f of ['clip_pixel_values.f32', 'image_embeds.f32', 'image_latents.f32'])
        rmSync(path.join(dir, f));
      const frames = readFileSync(path.join(dir, 'frames.f32'));
      const shifted = new Float32Array(frames.byteLength / 4);
      new Uint8Array(shifted.buffer).set(frames);
      for (let i = 0; i < shifted.length; i += 97) shifted[i] += 0.01;
      writeFileSync(path.join(dir, 'frames.f32'), new Uint8Array(shifted.buffer));
      const { code, stdout } = await parity(dir);
      expect(code).toBe(1);
      const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
      expect(report.clip_pixel_values_max_abs_err).toBeNull();
      expect(report.image_embeds_max_abs_err).toBeNull();
      expect(report.image_latents_max_abs_err).toBeNull();
      expect(report.max_abs_err).toBeGreaterThan(2e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reproduces AnimateLCM's own pipeline and scheduler (4 steps, its step noise injected) within 2e-3", async () => {
    const { code, stdout } = await parity(LCM_CASE, LCM_MODEL);
    expect(code).toBe(0);
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(report).toMatchObject({ case: 'case_animatelcm', steps: 4, frames: 8, pass: true });
    expect(report.scheduler).toBe('AnimateLCMSVDStochasticIterativeScheduler');
    expect(report.max_abs_err).toBeLessThan(1e-4);
    expect(report.image_latents_max_abs_err).toBeLessThan(1e-4);
  });

  it('fails the AnimateLCM case when its third draw (the step noise) is not the recorded one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sm-case-'));
    try {
      cpSync(LCM_CASE, dir, { recursive: true });
      const noise = readFileSync(path.join(dir, 'step_noise.f32'));
      // Shifted by one value: the same statistics, not the same draw.
      const shifted = Buffer.concat([noise.subarray(4), noise.subarray(0, 4)]);
      writeFileSync(path.join(dir, 'step_noise.f32'), shifted);
      const { code, stdout } = await parity(dir, LCM_MODEL);
      expect(code).toBe(1);
      expect(JSON.parse(stdout.trim().split('\n').at(-1)!).max_abs_err).toBeGreaterThan(2e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a case whose scheduler is not the model's, naming both", async () => {
    const { code, stderr } = await parity(LCM_CASE, 'models/tiny');
    expect(code).toBe(2);
    expect(stderr).toMatch(
      /made with AnimateLCMSVDStochasticIterativeScheduler, but models\/tiny names EulerDiscreteScheduler/,
    );
  });

  it('exits 2 with a usage line when arguments are missing', async () => {
    const { code, stderr } = await parity('');
    expect(code).toBe(2);
    expect(stderr).toMatch(/usage|lacks|no such|ENOENT/i);
  });
});
