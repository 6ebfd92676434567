/**
 * Command-line arguments for `stillmotion animate`, in the one option grammar: `--motion 180`,
 * `--motion=180` and `-motion 180` all work. The option flags are the option table's rows (a
 * parameter, default the engine's); the others are the tool's own. Unknown flags are refused with
 * the list of valid ones.
 */
import {
  type AnimateOptionsInput,
  OptionError,
  type OptionModel,
  type OptionName,
  type OptionTable,
  optionSpecs,
} from '@stillmotion/engine';

export interface CliArgs {
  readonly command: 'animate' | 'help';
  readonly image?: string;
  readonly output?: string;
  readonly options: AnimateOptionsInput;
  readonly model?: string;
  readonly device?: string;
}

/** Flags that are not animation options. */
const TOOL_FLAGS = ['output', 'o', 'model', 'device', 'help', 'h'] as const;

export class UsageError extends Error {
  override name = 'UsageError';
}

export function parseCliArgs(argv: readonly string[], table: OptionTable = optionSpecs): CliArgs {
  const optionNames = new Set<string>(table().map((s) => s.name));
  const values: Record<string, string> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([a-zA-Z][\w-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      positional.push(arg);
      continue;
    }
    const name = m[1]!.toLowerCase();
    if (name === 'help' || name === 'h') return { command: 'help', options: {} };
    if (!optionNames.has(name) && !(TOOL_FLAGS as readonly string[]).includes(name)) {
      throw new UsageError(
        `unknown option "${arg}"; valid options: ${[...optionNames].map((n) => `--${n}`).join(' ')} -o --model --device`,
      );
    }
    let value = m[2];
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`option ${arg} needs a value`);
    }
    values[name === 'o' ? 'output' : name] = value;
  }
  const [command, image, ...extra] = positional;
  if (command === undefined) return { command: 'help', options: {} };
  if (command !== 'animate')
    throw new UsageError(`unknown command "${command}"; try: stillmotion animate <image> [options]`);
  if (image === undefined) throw new UsageError('missing <image>: stillmotion animate <image> [options]');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
  const options: Record<string, string> = {};
  for (const name of optionNames) if (values[name] !== undefined) options[name] = values[name]!;
  return {
    command: 'animate',
    image,
    output: values.output,
    model: values.model,
    device: values.device,
    options: options as AnimateOptionsInput,
  };
}

/** Help text listing every option with its range and default, from the option table. */
export function cliHelp(model?: OptionModel, table: OptionTable = optionSpecs): string {
  const row = (flag: string, range: string, def: string) =>
    `  ${flag.padEnd(14)}${range.padEnd(34)} default: ${def}`;
  const rows = table(model).map(
    (s) => `${row(`--${s.name}`, s.range, s.defaultText)}\n${' '.repeat(16)}${s.description}`,
  );
  return [
    'usage: stillmotion animate <image> [options] [-o out.mp4]',
    '',
    'Animates a still picture (png, jpeg, webp, gif, avif) into a short video with Stable Video Diffusion.',
    '',
    'options (also accepted as -name value or --name=value):',
    ...rows,
    row('-o, --output', 'output file', '<image>.mp4 (or .gif)'),
    row('--model DIR', 'four ONNX files + model.json', 'SVD_MODEL_DIR, else the bundled tiny model'),
    row('--device D', 'auto|cuda|cpu', 'SVD_DEVICE, else auto'),
    '',
    'The bundled tiny model has random weights: its videos look like noise. See README, "Real models".',
  ].join('\n');
}

export function isOptionName(name: string, table: OptionTable = optionSpecs): name is OptionName {
  return table().some((s) => s.name === name);
}

export { OptionError };
