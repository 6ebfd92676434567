import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

async function bench(args: string[]) {
  const { stdout, stderr } = await exec('npm', ['run', '--silent', 'bench', '--', ...args]);
  return { report: JSON.parse(stdout.trim().split('\n').at(-1)!), stdout, stderr };
}

describe('npm run bench', () => {
  it('prints one JSON line of per-stage milliseconds, total, peak RSS, provider and model; progress on stderr', async () => {
    const { report, stdout, stderr } = await bench(['--frames', '3', '--steps', '2', '--device', 'cpu']);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    expect(report).toMatchObject({
      provider: 'cpu',
      model: 'svd-tiny (random weights)',
      frames: 3,
      steps: 2,
    });
    for (const key of [
      'preprocess_ms',
      'clip_ms',
      'vae_encode_ms',
      'unet_step_ms',
      'vae_decode_ms',
      'video_ms',
      'total_ms',
      'peak_rss_mb',
      'preview_map_ms',
      'preview_encode_ms',
    ]) {
      expect(report[key], key).toBeGreaterThan(0);
    }
    expect(report.previews_per_job).toBeGreaterThanOrEqual(1);
    expect(report.preview_share).toBeCloseTo(
      ((report.preview_map_ms + report.preview_encode_ms) * report.previews_per_job) /
        2 /
        report.unet_step_ms,
      3,
    );
    // Peak RSS per stage: sampled, so never above the process's peak; load and decode always hold samples.
    const stages = report.peak_rss_by_stage_mb;
    expect(Object.keys(stages)).toEqual(['load_warmup', 'encode', 'unet', 'vae_decode']);
    for (const mb of Object.values(stages) as number[]) expect(mb).toBeLessThanOrEqual(report.peak_rss_mb);
    expect(stages.load_warmup).toBeGreaterThan(0);
    expect(stages.vae_decode).toBeGreaterThan(0);
    expect(report.preview_svd_size_ms.map).toBeGreaterThan(0);
    expect(report.preview_svd_size_ms.encode).toBeGreaterThan(0);
    expect(stderr).toMatch(/step 2\/2/);
  });

  it('takes steps and guidance from the model when not given (AnimateLCM: 4 steps, 1-1.2)', async () => {
    const lcm = await bench(['--model', 'test/fixtures/tiny-animatelcm', '--frames', '2', '--device', 'cpu']);
    expect(lcm.report).toMatchObject({ steps: 4, guidance: [1, 1.2] });
    expect(lcm.stderr).toMatch(/step 4\/4/);
  });

  it('leaves the video encode out with --skip-video, for machines without ffmpeg', async () => {
    const { report } = await bench(['--frames', '2', '--steps', '1', '--device', 'cpu', '--skip-video']);
    expect(report.video_ms).toBeLessThan(1);
    expect(report.unet_step_ms).toBeGreaterThan(0);
  });
});
