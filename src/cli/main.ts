/**
 * `stillmotion animate <image> [options] [-o out.mp4]`: one job, in process, on the local engine.
 * Progress and logs go to stderr; stdout carries only the result (seed and output path).
 * Bad input gets one clear line and exit code 2.
 */
// First: it may start the process again with glibc's malloc tuned (malloc-tuning.ts).
import '../malloc-tuning.ts';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  describePlayback,
  EngineError,
  inspectImage,
  loadModelInfo,
  parseDevice,
  resolveOptions,
  SvdEngine,
} from '@stillmotion/engine';
import { ConfigError, engineLoadSettings } from '../config.ts';
import { cliHelp, parseCliArgs, UsageError } from './args.ts';
import { progressLine } from './progress-bar.ts';

async function main(argv: readonly string[]): Promise<number> {
  const args = parseCliArgs(argv);
  if (args.command === 'help') {
    // Defaults (frames, fps, motion) come from the model in use, when its model.json can be read.
    let model: ReturnType<typeof loadModelInfo> | undefined;
    try {
      model = loadModelInfo(engineLoadSettings().modelDir);
    } catch {
      model = undefined;
    }
    process.stdout.write(`${cliHelp(model)}\n`);
    return 0;
  }
  const imagePath = args.image!;
  const image = await readFile(imagePath).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(
      err.code === 'ENOENT' ? `no such file: ${imagePath}` : `cannot read ${imagePath}: ${err.message}`,
    );
  });
  const logger = {
    info: (_o: object, msg?: string) => process.stderr.write(`${msg}\n`),
    warn: (_o: object, msg?: string) => process.stderr.write(`warning: ${msg}\n`),
  };
  // Validate everything cheap before any model is loaded.
  const settings = engineLoadSettings();
  const model = loadModelInfo(args.model || settings.modelDir);
  const options = resolveOptions(args.options, model);
  const device = parseDevice(args.device ?? settings.device);
  await inspectImage(image);
  const engine = await SvdEngine.load({ ...settings, modelDir: model.dir, device, logger });
  try {
    const output = path.resolve(args.output ?? imagePath.replace(/\.[^./]+$/, '') + `.${options.format}`);
    const startedAt = performance.now();
    const tty = process.stderr.isTTY;
    const result = await engine.animate(image, options, {
      outPath: output,
      lastJob: true,
      onProgress: (e) =>
        process.stderr.write(`${tty ? '\r\x1b[2K' : ''}${progressLine(e, startedAt)}${tty ? '' : '\n'}`),
    });
    if (tty) process.stderr.write('\n');
    process.stderr.write(
      `done in ${(result.timings.total_ms / 1000).toFixed(1)}s: ${describePlayback(options)}, ${result.width}×${result.height}\n`,
    );
    process.stdout.write(`seed: ${result.seed}\noutput: ${result.path}\n`);
    return 0;
  } finally {
    await engine.release();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  // User errors (bad option, bad image, missing file, bad SVD_* variable) are one line and exit code 2; the rest is a bug or a broken setup.
  if (
    err instanceof UsageError ||
    err instanceof ConfigError ||
    (err instanceof EngineError && err.code !== 'video_error' && err.code !== 'model_error')
  ) {
    process.stderr.write(`stillmotion: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof EngineError) {
    process.stderr.write(`stillmotion: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(
      `stillmotion: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exitCode = 1;
  }
}
