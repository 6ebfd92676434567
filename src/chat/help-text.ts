/**
 * `/animate help` and `@bot help`: every option from the engine's table with its range and default.
 * Uses only backticks, which Discord and Slack both render as code.
 */
import { type OptionTable, optionSpecs } from '@stillmotion/engine';
import type { ModelDefaults } from './option-text.ts';

export interface HelpTextOptions {
  /** How the user starts a job on this platform, e.g. "`/animate` or mention me with a picture". */
  readonly usage?: string;
  /** Shown first, e.g. a warning that the bundled random-weight model makes noise. */
  readonly note?: string;
  /** The option table to list (default: the engine's). */
  readonly table?: OptionTable;
}

export function helpText(model?: ModelDefaults, opts: HelpTextOptions = {}): string {
  const lines: string[] = [];
  if (opts.note) lines.push(opts.note);
  lines.push(
    `Turn a picture into a short video. ${opts.usage ?? 'Send a picture with a prompt and options'}, ` +
      'for example `waves crashing --motion 180 --fps 8 --seed 42`.',
    'Options (`--name value`, `-name value` or `--name=value`):',
  );
  for (const spec of (opts.table ?? optionSpecs)(model)) {
    lines.push(`• \`--${spec.name}\` ${spec.range} (default: ${spec.defaultText}): ${spec.description}`);
  }
  lines.push('Out-of-range values are refused, never clamped. With several pictures, the first is used.');
  return lines.join('\n');
}
