import type { AnimateOptions } from '@stillmotion/engine';
import { describe, expect, it } from 'vitest';
import {
  formatEta,
  nextMotion,
  progressBar,
  renderCaption,
  renderProgress,
  verbatim,
} from '../../src/chat/render.ts';
import type { JobView } from '../../src/service/types.ts';

const options: AnimateOptions = {
  prompt: 'waves',
  motion: 127,
  fps: 7,
  frames: 4,
  steps: 2,
  seed: 42,
  noise: 0.02,
  guidance: [1, 3],
  size: 'auto',
  steer: 0,
  format: 'mp4',
  loop: 'off',
  smooth: 'off',
};

function job(patch: Partial<JobView>): JobView {
  return {
    id: 'j1',
    user: 'discord:1',
    state: 'queued',
    position: 0,
    progress: { step: 0, steps: 2, chunk: 0, chunks: 0 },
    eta_s: null,
    options,
    seed: 42,
    delivered: false,
    created_at: 0,
    format: 'mp4',
    ...patch,
  };
}

describe('renderProgress', () => {
  it('shows queue position, the estimated start and the ETA while queued', () => {
    expect(renderProgress(job({ state: 'queued', position: 3, start_eta_s: 50, eta_s: 75 }), verbatim)).toBe(
      '⏳ Queued: position 3 · starts in ~50 s · ETA ~1 min 15 s',
    );
    expect(
      renderProgress(job({ state: 'queued', position: 1, start_eta_s: 0, eta_s: 9 }), verbatim),
    ).toContain('starts now');
    expect(
      renderProgress(job({ state: 'queued', position: 2, start_eta_s: null, eta_s: null }), verbatim),
    ).toContain('starts soon · ETA unknown');
  });

  it('shows a bar with step i/N and ETA while denoising', () => {
    const text = renderProgress(
      job({ state: 'running', progress: { step: 3, steps: 12, chunk: 0, chunks: 0 }, eta_s: 9 }),
      verbatim,
    );
    expect(text).toContain('step 3/12');
    expect(text).toContain('▰▰▰▱▱▱▱▱▱▱▱▱');
    expect(text).toContain('ETA ~9 s');
  });

  it('shows decode chunks, then encoding, then the end states', () => {
    expect(
      renderProgress(
        job({ state: 'running', progress: { step: 2, steps: 2, chunk: 1, chunks: 2 } }),
        verbatim,
      ),
    ).toContain('chunk 1/2');
    expect(renderProgress(job({ state: 'running', encoding: true }), verbatim)).toMatch(/Encoding/);
    expect(renderProgress(job({ state: 'failed', error: 'GPU out of memory' }), verbatim)).toContain(
      'GPU out of memory',
    );
    expect(renderProgress(job({ state: 'canceled' }), verbatim)).toMatch(/Canceled/);
    expect(renderProgress(job({ state: 'succeeded' }), verbatim)).toMatch(/Done/);
  });
});

describe('helpers', () => {
  it('formats ETAs and bars', () => {
    expect(formatEta(null)).toBe('unknown');
    expect(formatEta(0.2)).toBe('~1 s');
    expect(formatEta(120)).toBe('~2 min');
    expect(formatEta(3700)).toBe('~1 h 1 min');
    expect(progressBar(0, 0, 4)).toBe('▱▱▱▱');
    expect(progressBar(5, 4, 4)).toBe('▰▰▰▰');
  });

  it('captions with prompt, seed and every option', () => {
    const caption = renderCaption(job({ seed: 7 }), verbatim);
    expect(caption).toContain('“waves”');
    expect(caption).toContain('seed 7');
    expect(caption).toContain('--motion 127 --fps 7 --frames 4 --steps 2 --seed 7');
    expect(caption).toContain('--loop off --smooth off');
    expect(caption).toContain('seed 7 · 4 frames at 7 fps · ');
    expect(renderCaption(job({ options: { ...options, prompt: '' } }), verbatim)).toContain('(no prompt)');
  });

  it('passes the prompt and a failure reason through the escape, and nothing else', () => {
    const mark = (t: string) => `<${t}>`;
    expect(renderCaption(job({ seed: 7 }), mark).split('\n')[0]).toBe('“<waves>”');
    expect(renderCaption(job({ seed: 7 }), mark)).toContain('`--motion 127');
    expect(renderProgress(job({ state: 'failed', error: 'bad' }), mark)).toBe('❌ Failed: <bad>');
  });

  it('says what loop and smooth made of the frames', () => {
    const made = (patch: Partial<AnimateOptions>) =>
      renderCaption(job({ options: { ...options, frames: 14, ...patch } }), verbatim);
    expect(made({ loop: 'boomerang' })).toContain('26 frames at 7 fps (14 generated, boomerang loop)');
    expect(made({ loop: 'fade' })).toContain('11 frames at 7 fps (14 generated, fade loop)');
    expect(made({ smooth: '2x' })).toContain('27 frames at 14 fps (14 generated, smoothed 2×)');
    expect(made({ loop: 'boomerang', smooth: '3x' })).toContain(
      '78 frames at 21 fps (14 generated, boomerang loop, smoothed 3×)',
    );
    expect(made({ loop: 'boomerang', smooth: '3x' })).toContain('--loop boomerang --smooth 3x');
  });

  it('moves motion by ±50 and disables outside 1–255 instead of clamping', () => {
    expect(nextMotion(job({}), 50)).toBe(177);
    expect(nextMotion(job({}), -50)).toBe(77);
    expect(nextMotion(job({ options: { ...options, motion: 206 } }), 50)).toBeNull();
    expect(nextMotion(job({ options: { ...options, motion: 205 } }), 50)).toBe(255);
    expect(nextMotion(job({ options: { ...options, motion: 50 } }), -50)).toBeNull();
    expect(nextMotion(job({ options: { ...options, motion: 51 } }), -50)).toBe(1);
  });
});
