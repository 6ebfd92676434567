/**
 * The chat side of the one option grammar: turns `waves crashing --motion 180 -fps 8 --seed 42`
 * into a prompt plus {@link AnimateOptionsInput}. Option names and ranges come from the option
 * table (a parameter, default the engine's `optionSpecs`); values are checked by the engine's
 * `resolveOptions` (never clamped).
 */
import {
  type AnimateOptionsInput,
  findSpec,
  OptionError,
  type OptionModel,
  type OptionSpec,
  type OptionTable,
  optionSpecs,
  resolveOptions,
} from '@stillmotion/engine';

/** The model's option defaults and limits (frames, fps, motion, its scheduler's steps and guidance), and whether it can steer. */
export type ModelDefaults = OptionModel;

export interface ParsedChatText {
  /** The words that are not options (and any `--prompt` value), joined by single spaces. */
  readonly prompt: string;
  /** Options as typed (strings); `prompt` is included when non-empty. */
  readonly options: AnimateOptionsInput;
  /** True for `help`, `--help` or `-h`: the caller shows {@link helpText} instead of running a job. */
  readonly help: boolean;
}

/** Dashes phone keyboards substitute for `--`/`-`: em dash, en dash, minus sign. */
const DASHES = /^(?:--|—|–|−|-)/;
const QUOTES: Readonly<Record<string, string>> = { '"': '"', "'": "'", '“': '”', '‘': '’', '«': '»' };

/** Splits on whitespace, keeping quoted runs (`"…"`, `'…'`, `“…”`) together without their quotes. */
export function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length) break;
    let token = '';
    while (i < text.length && !/\s/.test(text[i]!)) {
      const close = QUOTES[text[i]!];
      const end = close === undefined ? -1 : text.indexOf(close, i + 1);
      if (end > i) {
        token += text.slice(i + 1, end);
        i = end + 1;
      } else {
        token += text[i];
        i++;
      }
    }
    tokens.push(token);
  }
  return tokens;
}

function validNames(specs: readonly OptionSpec[]): string {
  return specs.map((s) => `--${s.name}`).join(', ');
}

/** A token that starts an option (`--x`, `-x`, `—x`), as opposed to a value such as `-1`. */
function isOptionToken(token: string): boolean {
  return DASHES.test(token) && /^[^\d.]/.test(token.replace(DASHES, '')) && token.replace(DASHES, '') !== '';
}

/**
 * Parses chat text into a prompt and options. Throws {@link OptionError} for an unknown option (the
 * message lists the valid ones), a missing value or a repeated option. With `model` given, values
 * are also checked against their ranges now (the same check the engine runs before any work).
 */
export function parseChatText(
  text: string,
  model?: ModelDefaults,
  table: OptionTable = optionSpecs,
): ParsedChatText {
  const specs = table(model);
  const tokens = tokenize(text);
  const words: string[] = [];
  const options: Record<string, string> = {};
  let help = tokens.length === 1 && tokens[0]!.toLowerCase() === 'help';
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (!isOptionToken(token)) {
      words.push(token);
      continue;
    }
    const body = token.replace(DASHES, '');
    const eq = body.indexOf('=');
    const name = (eq >= 0 ? body.slice(0, eq) : body).toLowerCase();
    if (name === 'help' || name === 'h') {
      help = true;
      continue;
    }
    const spec = findSpec(specs, name);
    if (!spec) {
      throw new OptionError(
        name,
        validNames(specs),
        `unknown option "${token}"; valid options: ${validNames(specs)}, --help`,
      );
    }
    let value: string | undefined;
    if (eq >= 0) value = body.slice(eq + 1);
    else if (i + 1 < tokens.length && !isOptionToken(tokens[i + 1]!)) value = tokens[++i];
    if (value === undefined || value === '') {
      throw new OptionError(name, spec.range, `--${name} needs a value in ${spec.range}`);
    }
    if (name === 'prompt') {
      words.push(value);
      continue;
    }
    if (name in options) throw new OptionError(name, spec.range, `--${name} is given twice; give it once`);
    options[name] = value;
  }
  const prompt = words.join(' ');
  const input: Record<string, string> = { ...options };
  if (prompt) input.prompt = prompt;
  else delete input.prompt;
  if (model && !help) resolveOptions(input as AnimateOptionsInput, model);
  return { prompt, options: input as AnimateOptionsInput, help };
}
