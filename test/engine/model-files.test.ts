import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelError } from '../../engine/src/errors.ts';
import { BUNDLED_MODEL_DIR, loadModelInfo, MODEL_PARTS } from '../../engine/src/model-info.ts';

describe('bundled tiny model', () => {
  it('is a byte-for-byte copy of the shared fixture, as PROVENANCE.md records', () => {
    const provenance = readFileSync(path.join(BUNDLED_MODEL_DIR, 'PROVENANCE.md'), 'utf8');
    for (const part of MODEL_PARTS) {
      const digest = createHash('sha256')
        .update(readFileSync(path.join(BUNDLED_MODEL_DIR, `${part}.onnx`)))
        .digest('hex');
      expect(provenance).toContain(`${digest}  ${part}.onnx`);
    }
  });

  it('has the text encoder and tokenizer of the steer, as PROVENANCE.md records', () => {
    const provenance = readFileSync(path.join(BUNDLED_MODEL_DIR, 'PROVENANCE.md'), 'utf8');
    const m = loadModelInfo();
    expect(m.steerable).toBe(true);
    const files = [m.textEncoder!.file, m.textEncoder!.tokenizer, m.textEncoder!.tokenizerConfig];
    expect(files.map((f) => path.basename(f))).toEqual([
      'text_encoder.onnx',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    for (const file of files) {
      const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
      expect(provenance).toContain(`${digest}  ${path.basename(file)}`);
    }
  });

  it('has a model.json with native size 128×64, 14 frames, fps 7 and random weights flagged', () => {
    const m = loadModelInfo();
    expect(m).toMatchObject({
      width: 128,
      height: 64,
      frames: 14,
      fps: 7,
      motion: 127,
      randomWeights: true,
      vaeScalingFactor: 0.18215,
    });
    expect(m.license.length).toBeGreaterThan(0);
  });

  it('refuses a folder without model.json or with a bad field, saying what to fix', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sm-model-'));
    expect(() => loadModelInfo(dir)).toThrow(ModelError);
    expect(() => loadModelInfo(dir)).toThrow(/SVD_MODEL_DIR/);
    writeFileSync(path.join(dir, 'model.json'), '{not json');
    expect(() => loadModelInfo(dir)).toThrow(/not valid JSON/);
  });
});

describe('model.json scheduler', () => {
  /** A model folder using the bundled ONNX files (paths in model.json are relative to the folder). */
  function folder(extra: Record<string, unknown>): string {
    const dir = mkdtempSync(path.join(tmpdir(), 'sm-model-'));
    const base = JSON.parse(readFileSync(path.join(BUNDLED_MODEL_DIR, 'model.json'), 'utf8'));
    const files = Object.fromEntries(
      MODEL_PARTS.map((p) => [p, path.relative(dir, path.join(BUNDLED_MODEL_DIR, `${p}.onnx`))]),
    );
    const { text_encoder: _steerOnly, ...rest } = base;
    writeFileSync(path.join(dir, 'model.json'), JSON.stringify({ ...rest, files, ...extra }));
    return dir;
  }

  it("is SVD's Euler when model.json names none, with its defaults: 25 steps, guidance 1-3, up to 50", () => {
    expect(loadModelInfo()).toMatchObject({
      scheduler: { name: 'EulerDiscreteScheduler', sigmaMin: 0.002, sigmaMax: 700 },
      steps: 25,
      guidance: [1, 3],
      maxSteps: 50,
    });
  });

  it("reads AnimateLCM's scheduler and defaults (4 steps, 1-1.2, at most its 40 train steps)", () => {
    expect(loadModelInfo('test/fixtures/tiny-animatelcm')).toMatchObject({
      scheduler: {
        name: 'AnimateLCMSVDStochasticIterativeScheduler',
        numTrainTimesteps: 40,
        sigmaMin: 0.002,
        sigmaMax: 700,
        sigmaData: 1,
        sNoise: 1,
        rho: 7,
        clipDenoised: false,
      },
      steps: 4,
      guidance: [1, 1.2],
      maxSteps: 40,
    });
    // Without steps and guidance, the scheduler's own defaults.
    const dir = folder({ scheduler: { name: 'AnimateLCMSVDStochasticIterativeScheduler' } });
    expect(loadModelInfo(dir)).toMatchObject({ steps: 4, guidance: [1, 1.2], scheduler: { sigmaData: 1 } });
  });

  it.each([
    [{ scheduler: { name: 'DDIMScheduler' } }, /scheduler.name "DDIMScheduler" is not supported/],
    [{ scheduler: { prediction_type: 'epsilon' } }, /prediction_type must be v_prediction/],
    [
      { scheduler: { name: 'AnimateLCMSVDStochasticIterativeScheduler', sigma_data: 0 } },
      /scheduler.sigma_data/,
    ],
    [{ scheduler: { sigma_min: 800 } }, /scheduler.sigma_max/],
    [{ scheduler: { name: 'AnimateLCMSVDStochasticIterativeScheduler' }, steps: 41 }, /"steps"/],
    [{ steps: 0 }, /"steps"/],
    [{ guidance: [2, 1] }, /"guidance"/],
    [{ guidance: '1-3' }, /"guidance"/],
  ])('refuses %j, naming the field', (extra, message) => {
    expect(() => loadModelInfo(folder(extra))).toThrow(message);
  });
});
