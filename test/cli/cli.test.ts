import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { ffprobe } from '../helpers/ffprobe.ts';

const exec = promisify(execFile);
const root = path.resolve('.');
const dir = mkdtempSync(path.join(tmpdir(), 'sm-cli-'));
const picture = path.join(dir, 'pic.png');
writeFileSync(picture, readFileSync('test/fixtures/case_public/input.png'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function stillmotion(args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await exec('npx', ['stillmotion', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npx stillmotion animate', () => {
  it('writes an H.264 yuv420p MP4 with exactly the asked frames, prints seed and path on stdout, progress on stderr', async () => {
    const out = path.join(dir, 'out.mp4');
    const r = await stillmotion([
      'animate',
      picture,
      '--frames',
      '9',
      '--steps',
      '3',
      '--seed',
      '42',
      '-o',
      out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`seed: 42\noutput: ${out}\n`);
    expect(r.stderr).toMatch(/step 3\/3/);
    expect(r.stderr).toMatch(/chunk 1\/1/);
    expect(r.stderr).toMatch(/random weights.*noise/);
    const probe = await ffprobe(out);
    expect(probe).toMatchObject({
      codec: 'h264',
      pix_fmt: 'yuv420p',
      nb_frames: 9,
      width: 128,
      height: 64,
      fps: 7,
    });
  });

  it('writes a GIF with --format gif and accepts -motion and --x=v spellings', async () => {
    const out = path.join(dir, 'out.gif');
    const r = await stillmotion([
      'animate',
      picture,
      '--frames=3',
      '--steps',
      '1',
      '-motion',
      'high',
      '--format',
      'gif',
      '-o',
      out,
    ]);
    expect(r.code).toBe(0);
    expect((await ffprobe(out)).codec).toBe('gif');
  });

  it('makes a boomerang loop, smoothed, and its frame count says what was made', async () => {
    const out = path.join(dir, 'loop.mp4');
    const r = await stillmotion([
      'animate',
      picture,
      '--frames',
      '5',
      '--steps',
      '1',
      '--loop',
      'boomerang',
      '--smooth=2x',
      '-o',
      out,
    ]);
    expect(r.code).toBe(0);
    // 5 frames → 8 as a boomerang → 16 at 14 fps with the wrap interpolated.
    expect(r.stderr).toMatch(/: 16 frames at 14 fps \(5 generated, boomerang loop, smoothed 2×\), 128×64\n/);
    expect(await ffprobe(out)).toMatchObject({ nb_frames: 16, fps: 14 });
  });

  it('--help lists every option with its range and default', async () => {
    const r = await stillmotion(['--help']);
    expect(r.code).toBe(0);
    // Model defaults come from the model in use: the bundled tiny model has 14 frames.
    expect(r.stdout).toMatch(/--frames\s+2–14\s+default: model \(14\)/);
    for (const [name, range, def] of [
      ['motion', '1–255 or low|medium|high', 'model (127)'],
      ['fps', '1–30', 'model (7)'],
      ['frames', '2–', 'model'],
      ['steps', '1–50', '25'],
      ['seed', '0–4294967295', 'random'],
      ['noise', '0–1', '0.02'],
      ['guidance', 'min-max', '1-3'],
      ['size', 'auto|landscape|portrait|square', 'auto'],
      ['format', 'mp4|gif', 'mp4'],
      ['loop', 'off|boomerang|fade', 'off'],
      ['smooth', 'off|2x|3x|4x', 'off'],
      ['steer', '0–1', '0 (off)'],
      ['prompt', '500', 'empty'],
    ]) {
      const line = r.stdout.split('\n').find((l) => l.includes(`--${name} `));
      expect(line, name).toBeDefined();
      expect(line).toContain(range);
      expect(line).toContain(def);
    }
    expect(r.stdout).toMatch(
      /--steer[^\n]*\n\s+EXPERIMENTAL CLIP prompt steer; SVD was not trained with text; results vary/,
    );
  });

  it.each([
    ['a missing file', ['animate', '/nonexistent/pic.png'], /no such file/],
    [
      'a file that is not an image',
      ['animate', 'package.json'],
      /not a picture we can use: send a png, jpeg, webp, gif or avif/,
    ],
    ['an out-of-range option', ['animate', 'PIC', '--motion', '300'], /motion.*1–255/],
    ['too many frames for the model', ['animate', 'PIC', '--frames', '26'], /frames.*2–14/],
    ['an unknown option', ['animate', 'PIC', '--bogus', '1'], /unknown option "--bogus"/],
    ['a bad guidance', ['animate', 'PIC', '--guidance', '3-1'], /guidance/],
    ['an unknown loop', ['animate', 'PIC', '--loop', 'spin'], /loop must be one of off\|boomerang\|fade/],
    [
      'a fade loop of too few frames',
      ['animate', 'PIC', '--loop', 'fade', '--frames', '3'],
      /loop fade needs at least 4 frames/,
    ],
    [
      'smooth over 60 fps',
      ['animate', 'PIC', '--smooth', '3x', '--fps', '30'],
      /smooth 3x at --fps 30 would play at 90 fps.*--smooth 2x/,
    ],
    ['an unknown device', ['animate', 'PIC', '--device', 'tpu'], /Unsupported device/],
  ])('refuses %s with one clear line and exit code 2', async (_what, args, message) => {
    const r = await stillmotion(args.map((a) => (a === 'PIC' ? picture : a)));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it.each([
    ['SVD_DEVICE', { SVD_DEVICE: 'tpu' }, 2, /SVD_DEVICE/],
    ['SVD_DECODE_CHUNK', { SVD_DECODE_CHUNK: '0' }, 2, /SVD_DECODE_CHUNK/],
    // A broken setup, not bad input: exit code 1.
    ['SVD_MODEL_DIR', { SVD_MODEL_DIR: '/nonexistent/model' }, 1, /no model.json in \/nonexistent\/model/],
  ])('reads %s through the config and refuses a bad one with one line', async (_n, env, code, message) => {
    const r = await stillmotion(['animate', picture, '--frames', '2', '--steps', '1'], env);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('ORT_CUDA_NODE_MODULES', () => {
  it('loads onnxruntime-node from that folder instead of the installed one', async () => {
    const modules = path.join(dir, 'ort-modules');
    const pkg = path.join(modules, 'onnxruntime-node');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      path.join(pkg, 'package.json'),
      JSON.stringify({ name: 'onnxruntime-node', main: 'index.cjs' }),
    );
    const real = JSON.stringify(path.join(root, 'node_modules', 'onnxruntime-node'));
    writeFileSync(
      path.join(pkg, 'index.cjs'),
      `globalThis.__ortFrom = 'device-copy';\nmodule.exports = require(${real});\n`,
    );
    const script = `import { loadOrt } from './engine/src/runtime.ts'; const ort = await loadOrt(); console.log(globalThis.__ortFrom, typeof ort.InferenceSession.create);`;
    const { stdout } = await exec('node', ['--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, ORT_CUDA_NODE_MODULES: modules },
    });
    expect(stdout.trim()).toBe('device-copy function');
    const plain = await exec('node', ['--input-type=module', '-e', script], {
      cwd: root,
      env: { ...process.env, ORT_CUDA_NODE_MODULES: '' },
    });
    expect(plain.stdout.trim()).toBe('undefined function');
  });
});
