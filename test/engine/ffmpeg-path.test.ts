import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VideoError } from '../../engine/src/errors.ts';
import { checkFfmpeg, resolveFfmpeg } from '../../engine/src/ffmpeg-path.ts';

const packageFfmpeg = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

let dir: string;
/** A PATH with no usable ffmpeg: an empty folder, and one whose `ffmpeg` is not executable. */
let fakePath: string;

function script(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

function videoError(fn: () => unknown): VideoError {
  try {
    fn();
  } catch (err) {
    if (err instanceof VideoError) return err;
    throw err;
  }
  throw new Error('expected a VideoError');
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-ffmpeg-path-'));
  const empty = path.join(dir, 'empty-bin');
  const notExecutable = path.join(dir, 'plain-bin');
  mkdirSync(empty);
  mkdirSync(notExecutable);
  writeFileSync(path.join(notExecutable, 'ffmpeg'), 'not a program');
  fakePath = [empty, notExecutable].join(path.delimiter);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveFfmpeg order', () => {
  it('uses FFMPEG_PATH first, even with ffmpeg on PATH', () => {
    expect(resolveFfmpeg({ env: { FFMPEG_PATH: packageFfmpeg, PATH: '/usr/bin' } })).toEqual({
      path: packageFfmpeg,
      source: 'FFMPEG_PATH',
    });
  });

  it('then the system ffmpeg on PATH', () => {
    expect(resolveFfmpeg({ env: { PATH: `${fakePath}${path.delimiter}/usr/bin` } })).toEqual({
      path: '/usr/bin/ffmpeg',
      source: 'system',
    });
  });

  it('treats an empty FFMPEG_PATH as unset', () => {
    expect(resolveFfmpeg({ env: { FFMPEG_PATH: '', PATH: '/usr/bin' } }).source).toBe('system');
  });

  it('then the @ffmpeg-installer/ffmpeg binary when PATH has none', () => {
    const r = resolveFfmpeg({ env: { PATH: fakePath } });
    expect(r).toEqual({ path: packageFfmpeg, source: '@ffmpeg-installer/ffmpeg' });
    expect(r.path).toMatch(/@ffmpeg-installer[/\\][^/\\]+[/\\]ffmpeg$/);
  });

  it('reads process.env by default', () => {
    const saved = process.env['FFMPEG_PATH'];
    process.env['FFMPEG_PATH'] = packageFfmpeg;
    try {
      expect(resolveFfmpeg().source).toBe('FFMPEG_PATH');
    } finally {
      if (saved === undefined) delete process.env['FFMPEG_PATH'];
      else process.env['FFMPEG_PATH'] = saved;
    }
  });

  it('fails with an install hint when there is no ffmpeg at all', () => {
    const err = videoError(() => resolveFfmpeg({ env: { PATH: fakePath }, packageBinary: null }));
    expect(err.code).toBe('video_error');
    expect(err.message).toMatch(/ffmpeg was not found/);
    expect(err.message).toMatch(/apt-get install ffmpeg/);
    expect(err.message).toMatch(/FFMPEG_PATH/);
  });
});

describe('FFMPEG_PATH errors', () => {
  it('names the variable and the path when the file is missing', () => {
    const missing = path.join(dir, 'no-such-ffmpeg');
    const err = videoError(() => resolveFfmpeg({ env: { FFMPEG_PATH: missing, PATH: '/usr/bin' } }));
    expect(err.message).toContain('FFMPEG_PATH');
    expect(err.message).toContain(missing);
    expect(err.message).toMatch(/no file exists/);
  });

  it('refuses a file that is not executable', () => {
    const plain = path.join(dir, 'plain-bin', 'ffmpeg');
    const err = videoError(() => resolveFfmpeg({ env: { FFMPEG_PATH: plain } }));
    expect(err.message).toContain('FFMPEG_PATH');
    expect(err.message).toMatch(/not an executable file/);
  });

  it('refuses a folder', () => {
    const err = videoError(() => resolveFfmpeg({ env: { FFMPEG_PATH: dir } }));
    expect(err.message).toMatch(/FFMPEG_PATH.*not an executable file/);
  });
});

describe('checkFfmpeg', () => {
  it('reports the system ffmpeg, its version and libx264', async () => {
    const info = await checkFfmpeg({ env: { PATH: '/usr/bin' } });
    expect(info.path).toBe('/usr/bin/ffmpeg');
    expect(info.source).toBe('system');
    expect(info.version).toMatch(/^\d+\.\d+/);
  });

  it('checks the package binary as well', async () => {
    const info = await checkFfmpeg({ env: { PATH: fakePath } });
    expect(info).toMatchObject({ path: packageFfmpeg, source: '@ffmpeg-installer/ffmpeg' });
    expect(info.version.length).toBeGreaterThan(0);
  });

  it('refuses an ffmpeg without libx264, with an install hint', async () => {
    const noX264 = script(
      'ffmpeg-no-x264',
      'case "$2" in -version) echo "ffmpeg version 9.9-test";; -encoders) echo " V..... mpeg4  MPEG-4 part 2";; esac',
    );
    const err = await checkFfmpeg({ env: { FFMPEG_PATH: noX264 } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VideoError);
    expect((err as Error).message).toMatch(/ffmpeg 9\.9-test .* has no libx264 encoder/);
    expect((err as Error).message).toMatch(/apt-get install ffmpeg/);
  });

  it('refuses a program that is not ffmpeg, or that fails', async () => {
    const notFfmpeg = script('not-ffmpeg', 'echo hello');
    await expect(checkFfmpeg({ env: { FFMPEG_PATH: notFfmpeg } })).rejects.toThrow(
      /does not look like ffmpeg/,
    );
    const failing = script('failing-ffmpeg', 'echo boom >&2; exit 3');
    await expect(checkFfmpeg({ env: { FFMPEG_PATH: failing } })).rejects.toThrow(
      /could not run `ffmpeg -version`/,
    );
  });
});
