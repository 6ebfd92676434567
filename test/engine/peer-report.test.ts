/** bench:peer's arithmetic: per-stage times, ratios stillmotion / diffusers and the goals. */

import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { peerReport, runRecord } from '../../bench/peer-bench.ts';

const still = {
  model: 'svd-xt (random weights)',
  provider: 'cpu',
  frames: 2,
  steps: 2,
  width: 1024,
  height: 576,
  runs: 1,
  load_ms: 30_000,
  warmup_ms: 5_000,
  run_total_ms: [100_000],
  decode_chunk: 1,
  sequential_guidance: false,
  unload_once_used: true,
  preprocess_ms: 30,
  clip_ms: 1_000,
  vae_encode_ms: 5_000,
  unet_step_ms: 40_000,
  vae_decode_ms: 14_000,
  video_ms: 0,
  total_ms: 100_030,
  peak_rss_mb: 11_000,
  peak_rss_by_stage_mb: { load_warmup: 9_000, encode: 9_100, unet: 10_000, vae_decode: 10_900 },
  cpu_s: 180,
};
const diff = {
  unet_step_ms: 80_000,
  unet_calls_per_run: 2,
  clip_ms: 2_000,
  vae_encode_ms: 10_000,
  vae_decode_ms: 28_000,
  load_ms: 25_000,
  pipeline_ms: 200_000,
  total_s: 200,
  peak_rss_mb: 12_000,
  cpu_s: 390,
  threads: 2,
  decode_chunk_size: 1,
  torch: '2.13.0+cpu',
};

describe('peerReport', () => {
  it('compares the job stage by stage and says whether the goals are met', () => {
    const r = peerReport(still, diff, 2, '2026-12-02', 2);
    expect(r.stillmotion.pipeline_ms).toBe(1_000 + 5_000 + 2 * 40_000 + 14_000);
    expect(r.ratios.pipeline).toBe(0.5);
    expect(r.ratios.unet_step).toBe(0.5);
    expect(r.ratios.vae_decode).toBe(0.5);
    expect(r.ratios.peak_rss).toBe(0.917);
    expect(r.ratios.cpu).toBe(0.462);
    expect(r.goals).toEqual({ time_le_0_6: true, memory_le_1_0: true });
    expect(r.shape).toMatchObject({ frames: 2, steps: 2, width: 1024, height: 576 });
    expect(r.stillmotion.peak_rss_by_stage_mb).toEqual(still.peak_rss_by_stage_mb);
  });

  it('counts diffusers per step when its UNet ran more than once per step', () => {
    const r = peerReport(still, { ...diff, unet_calls_per_run: 4 }, 2, '2026-12-02', 2);
    expect(r.diffusers.unet_step_ms).toBe(160_000);
    expect(r.goals.memory_le_1_0).toBe(true);
    const worse = peerReport({ ...still, peak_rss_mb: 13_000 }, diff, 2, '2026-12-02', 2);
    expect(worse.goals.memory_le_1_0).toBe(false);
  });
});

describe('runRecord', () => {
  it('says the command, the commit, the SVD_* settings only, and the load before and after', () => {
    const env = { SVD_CPU_ARENA: 'unet', SVD_DECODE_CHUNK: '1', HOME: '/root', PATH: '/bin' };
    const r = runRecord(['bench/peer-bench.ts', '--frames', '2'], env, path.resolve('.'), [1.234, 2, 3]);
    expect(r.command).toBe('bench/peer-bench.ts --frames 2');
    expect(r.settings).toEqual({ SVD_CPU_ARENA: 'unet', SVD_DECODE_CHUNK: '1' });
    expect(r.commit).toMatch(/^[0-9a-f]{7,}(\+dirty)?$/);
    expect(r.load_avg_before).toEqual([1.23, 2, 3]);
    expect(r.load_avg_after).toHaveLength(3);
  });
});
