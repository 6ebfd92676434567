/**
 * Finds the ffmpeg binary the engine runs, and checks it once at service start.
 *
 * Order: `FFMPEG_PATH` (must exist and be executable, otherwise an error naming the variable), then
 * the system ffmpeg on `PATH`, then the binary of the `@ffmpeg-installer/ffmpeg` package.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { VideoError } from './errors.ts';

export type FfmpegSource = 'FFMPEG_PATH' | 'system' | '@ffmpeg-installer/ffmpeg';

export interface ResolvedFfmpeg {
  readonly path: string;
  readonly source: FfmpegSource;
}

export interface FfmpegInfo extends ResolvedFfmpeg {
  /** The version word of `ffmpeg -version`, e.g. `5.1.9-0+deb12u1`. */
  readonly version: string;
}

export interface ResolveFfmpegOptions {
  /** Where `FFMPEG_PATH` and `PATH` are read from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /**
   * The package binary: a path to use instead of asking `@ffmpeg-installer/ffmpeg`, or `null` for
   * "no package binary". Default: ask the package.
   */
  readonly packageBinary?: string | null;
}

const INSTALL_HINT =
  'Install ffmpeg with libx264 (Debian/Ubuntu: `apt-get install ffmpeg`), or set FFMPEG_PATH to an ffmpeg ' +
  'binary, or reinstall the project (`npm ci`) so that @ffmpeg-installer/ffmpeg provides one.';

const execFileAsync = promisify(execFile);

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fromEnvVariable(value: string): ResolvedFfmpeg {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(value);
  } catch {
    throw new VideoError(
      `FFMPEG_PATH is set to "${value}", but no file exists there. Point FFMPEG_PATH at an ffmpeg binary, or unset it to use the system ffmpeg.`,
    );
  }
  if (!stat.isFile() || !isExecutableFile(value)) {
    throw new VideoError(
      `FFMPEG_PATH is set to "${value}", but that is not an executable file. Point FFMPEG_PATH at an ffmpeg binary (chmod +x), or unset it.`,
    );
  }
  return { path: path.resolve(value), source: 'FFMPEG_PATH' };
}

function fromSearchPath(searchPath: string | undefined): string | undefined {
  if (!searchPath) return undefined;
  const name = process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg';
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function fromPackage(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const installer = require('@ffmpeg-installer/ffmpeg') as { path?: unknown };
    return typeof installer.path === 'string' ? installer.path : undefined;
  } catch {
    // The package throws (a string) on platforms it has no binary for, or is not installed.
    return undefined;
  }
}

/** Resolves the ffmpeg binary to run. Throws VideoError when none is usable. */
export function resolveFfmpeg(options: ResolveFfmpegOptions = {}): ResolvedFfmpeg {
  const env = options.env ?? process.env;
  const fromEnv = env['FFMPEG_PATH'];
  if (fromEnv) return fromEnvVariable(fromEnv);

  const system = fromSearchPath(env['PATH']);
  if (system) return { path: system, source: 'system' };

  const packaged = options.packageBinary === undefined ? fromPackage() : options.packageBinary;
  if (packaged && isExecutableFile(packaged)) return { path: packaged, source: '@ffmpeg-installer/ffmpeg' };

  throw new VideoError(
    `ffmpeg was not found (FFMPEG_PATH unset, none on PATH, no package binary). ${INSTALL_HINT}`,
  );
}

async function runProbe(binary: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary, ['-hide_banner', ...args], {
      timeout: 15_000,
      maxBuffer: 8 * 1024 * 1024,
      encoding: 'utf8',
    });
    return stdout;
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new VideoError(
      `ffmpeg at ${binary} could not run \`ffmpeg ${args.join(' ')}\`: ${reason}. ${INSTALL_HINT}`,
      {
        cause: err,
      },
    );
  }
}

/**
 * Resolves ffmpeg, runs `ffmpeg -version` and `ffmpeg -encoders` once, and verifies libx264 is there.
 * Call it at service start so a missing or unusable ffmpeg is reported then, not at the first job.
 */
export async function checkFfmpeg(options: ResolveFfmpegOptions = {}): Promise<FfmpegInfo> {
  const resolved = resolveFfmpeg(options);
  const versionText = await runProbe(resolved.path, ['-version']);
  const version = /ffmpeg version (\S+)/.exec(versionText)?.[1];
  if (!version) {
    throw new VideoError(
      `${resolved.path} (from ${resolved.source}) does not look like ffmpeg. ${INSTALL_HINT}`,
    );
  }
  const encoders = await runProbe(resolved.path, ['-encoders']);
  if (!/^\s*V\S*\s+libx264\s/m.test(encoders)) {
    throw new VideoError(
      `ffmpeg ${version} at ${resolved.path} (from ${resolved.source}) has no libx264 encoder, which MP4 output needs. ${INSTALL_HINT}`,
    );
  }
  return { ...resolved, version };
}
