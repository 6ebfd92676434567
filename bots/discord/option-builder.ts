/**
 * Turns the option table (a parameter, default the engine's) into Discord slash-command options,
 * and Discord's option values back into the grammar's input. Choices and min/max are set where the
 * API allows; `preset` and `ramp` options (motion, guidance) are strings with autocomplete because
 * `high` and `1-3` are valid values.
 */
import {
  type AnimateOptionsInput,
  findSpec,
  type OptionSpec,
  type OptionTable,
  optionSpecs,
  optionValueText,
  parseGuidance,
} from '@stillmotion/engine';
import {
  type ApplicationCommandOptionChoiceData,
  type ChatInputCommandInteraction,
  type SlashCommandOptionsOnlyBuilder,
  SlashCommandStringOption,
} from 'discord.js';
import type { ModelDefaults } from '../../src/chat/option-text.ts';

/** The kinds Discord asks for as strings with autocomplete: a number or a preset name, and `min-max`. */
const AUTOCOMPLETE_KINDS: ReadonlySet<OptionSpec['kind']> = new Set(['preset', 'ramp']);
/** The longest value an autocomplete field takes (`medium`, `2.5-5`). */
const AUTOCOMPLETE_MAX_LENGTH = 20;

/** Whether `name` is an option of `table` that Discord fills with autocomplete suggestions. */
export function autocompletes(name: string, table: OptionTable = optionSpecs): boolean {
  const spec = findSpec(table(), name);
  return spec !== undefined && AUTOCOMPLETE_KINDS.has(spec.kind);
}

function describe(spec: OptionSpec): string {
  const text = `${spec.description} (${spec.range}; default ${spec.defaultText})`;
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}

/** Sets Discord's min/max from the row, where it has them. */
function bounded<O extends { setMinValue(n: number): O; setMaxValue(n: number): O }>(
  o: O,
  spec: OptionSpec,
): O {
  if (spec.min !== undefined) o.setMinValue(spec.min);
  if (spec.max !== undefined) o.setMaxValue(spec.max);
  return o;
}

/** Adds one Discord option per row of the table, in table order, after the image. */
export function addAnimateOptions<B extends SlashCommandOptionsOnlyBuilder>(
  builder: B,
  model?: ModelDefaults,
  table: OptionTable = optionSpecs,
): B {
  for (const spec of table(model)) {
    const name = spec.name;
    const description = describe(spec);
    if (spec.kind === 'text') {
      builder.addStringOption((o) => {
        o.setName(name).setDescription(description);
        return spec.maxLength === undefined ? o : o.setMaxLength(spec.maxLength);
      });
    } else if (AUTOCOMPLETE_KINDS.has(spec.kind)) {
      builder.addStringOption((o) =>
        o
          .setName(name)
          .setDescription(description)
          .setAutocomplete(true)
          .setMaxLength(AUTOCOMPLETE_MAX_LENGTH),
      );
    } else if (spec.choices) {
      const option = new SlashCommandStringOption().setName(name).setDescription(description);
      option.addChoices(...spec.choices.map((c) => ({ name: c, value: c })));
      builder.addStringOption(option);
    } else if (spec.integer) {
      builder.addIntegerOption((o) => bounded(o.setName(name).setDescription(description), spec));
    } else {
      builder.addNumberOption((o) => bounded(o.setName(name).setDescription(description), spec));
    }
  }
  return builder;
}

/** Reads every table option the user set, as the grammar's input (values validated later, never clamped). */
export function readAnimateOptions(
  interaction: ChatInputCommandInteraction,
  table: OptionTable = optionSpecs,
): AnimateOptionsInput {
  const input: Record<string, string | number> = {};
  for (const spec of table()) {
    const option = interaction.options.get(spec.name);
    if (option?.value !== undefined && option.value !== null && typeof option.value !== 'boolean') {
      input[spec.name] = option.value;
    }
  }
  return input as AnimateOptionsInput;
}

const GUIDANCE_SUGGESTIONS = ['1-3', '0-2', '1-2', '2-4', '2.5-5'];

/** Autocomplete suggestions for a `preset` or `ramp` option, starting with what the user typed if valid. */
export function suggest(
  option: string,
  typed: string,
  table: OptionTable = optionSpecs,
): ApplicationCommandOptionChoiceData<string>[] {
  const spec = findSpec(table(), option);
  const text = typed.trim().toLowerCase();
  if (spec?.kind === 'preset') return suggestPreset(spec, text).slice(0, 25);
  if (spec?.kind === 'ramp') return suggestRamp(spec, text).slice(0, 25);
  return [];
}

/** A whole number in range, or a preset name whose name or value starts with what was typed. */
function suggestPreset(spec: OptionSpec, text: string): ApplicationCommandOptionChoiceData<string>[] {
  const out: ApplicationCommandOptionChoiceData<string>[] = [];
  const presets = spec.presets ?? {};
  const n = Number(text);
  if (text && Number.isInteger(n) && n >= (spec.min ?? n) && n <= (spec.max ?? n))
    out.push({ name: `${n}`, value: `${n}` });
  for (const [name, value] of Object.entries(presets)) {
    if (!text || name.startsWith(text) || `${value}`.startsWith(text))
      out.push({ name: `${name} (${value})`, value: name });
  }
  if (out.length === 0) {
    const fallback = Object.keys(presets).find((k) => presets[k] === spec.default) ?? String(spec.default);
    out.push({
      name: `${spec.name} is ${spec.range}`,
      value: text.slice(0, AUTOCOMPLETE_MAX_LENGTH) || fallback,
    });
  }
  return out;
}

/** What was typed if it is a valid `min-max` (else why not), then the usual ramps. */
function suggestRamp(spec: OptionSpec, text: string): ApplicationCommandOptionChoiceData<string>[] {
  const out: ApplicationCommandOptionChoiceData<string>[] = [];
  const typed = text.slice(0, AUTOCOMPLETE_MAX_LENGTH);
  if (text) {
    try {
      parseGuidance(text);
      out.push({ name: text, value: text });
    } catch {
      out.push({ name: `"${typed}" is not min-max, each 0–10`, value: typed });
    }
  }
  const def = spec.default === undefined ? undefined : optionValueText(spec.default);
  for (const g of GUIDANCE_SUGGESTIONS) {
    if (g !== text && (!text || g.startsWith(text)))
      out.push({ name: g === def ? `${g} (default)` : g, value: g });
  }
  return out;
}
