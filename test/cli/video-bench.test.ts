import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const exec = promisify(execFile);

describe('npm run bench:video', () => {
  it('prints one JSON line: ms, bytes and the frames made for each loop mode and smooth factor', async () => {
    const { stdout, stderr } = await exec('npm', [
      'run',
      '--silent',
      'bench:video',
      '--',
      '--width',
      '64',
      '--height',
      '64',
      '--frames',
      '5',
      '--runs',
      '1',
      '--tiny-steps',
      '1',
    ]);
    expect(stdout.trim().split('\n')).toHaveLength(1);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ bench: 'video', synthetic: { width: 64, height: 64, frames: 5, fps: 7 } });
    const made = (results: { loop: string; smooth: string; frames_out: number; fps_out: number }[]) =>
      results.map((r) => `${r.loop}/${r.smooth}: ${r.frames_out}@${r.fps_out}`);
    // 5 frames: boomerang 8, fade 4 (k = 1); smooth (5−1)·m+1; boomerang + 4x: 8·4.
    expect(made(report.synthetic.results)).toEqual([
      'off/off: 5@7',
      'boomerang/off: 8@7',
      'fade/off: 4@7',
      'off/2x: 9@14',
      'off/3x: 13@21',
      'off/4x: 17@28',
      'boomerang/4x: 32@28',
    ]);
    for (const r of report.synthetic.results) {
      expect(r.ms).toBeGreaterThan(0);
      expect(r.bytes).toBeGreaterThan(0);
    }
    // The tiny model's 14 frames, in whole jobs.
    expect(made(report.tiny.results)).toEqual([
      'off/off: 14@7',
      'boomerang/off: 26@7',
      'fade/off: 11@7',
      'off/2x: 27@14',
      'off/3x: 40@21',
      'off/4x: 53@28',
      'boomerang/4x: 104@28',
    ]);
    for (const r of report.tiny.results) expect(r.video_ms).toBeGreaterThan(0);
    expect(stderr).toMatch(/loop boomerang, smooth 4x, mp4/);
  });
});
