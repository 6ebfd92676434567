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
