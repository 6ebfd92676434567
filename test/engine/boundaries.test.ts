import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ALLOWED = new Set([
  'onnxruntime-node',
  'sharp',
  'fluent-ffmpeg',
  '@ffmpeg-installer/ffmpeg',
  '@huggingface/tokenizers',
]);

function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [
    ...source.matchAll(
      /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
    ),
  ].map((m) => m[1] ?? m[2]!);
}

describe('engine boundaries', () => {
  it('imports only onnxruntime-node, sharp, ffmpeg, the tokenizer, node builtins and its own files — never the app or the bots', () => {
    const dir = 'engine/src';
    const offenders: string[] = [];
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      for (const spec of importsOf(path.join(dir, name))) {
        const local = spec.startsWith('./');
        if (!(local || spec.startsWith('node:') || ALLOWED.has(spec))) offenders.push(`${name}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("declares only the engine's own dependencies", () => {
    const pkg = JSON.parse(readFileSync('engine/package.json', 'utf8'));
    expect(Object.keys(pkg.dependencies).sort()).toEqual([...ALLOWED].sort());
    expect(pkg.dependencies['onnxruntime-node']).toBe('1.29.0');
  });
});
