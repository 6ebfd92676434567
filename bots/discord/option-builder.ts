/**
 * Turns the engine's option table into Discord slash-command options, and Discord's option values
 * back into the grammar's input. Choices and min/max are set where the API allows; `motion` and
 * `guidance` are strings with autocomplete because `high` and `1-3` are valid values.
 */
import {
  type AnimateOptionsInput,
  MOTION_PRESETS,
  type OptionSpec,
  optionSpecs,
  parseGuidance,
} from '@stillmotion/engine';
import {
  type ApplicationCommandOptionChoiceData,
  type ChatInputCommandInteraction,
  type SlashCommandOptionsOnlyBuilder,
  SlashCommandStringOption,
} from 'discord.js';
import type { ModelDefaults } from '../../src/chat/option-text.ts';

/** Options typed as strings with autocomplete suggestions. */
export const AUTOCOMPLETE_OPTIONS: ReadonlySet<string> = new Set(['motion', 'guidance']);

function describe(spec: OptionSpec): string {
  const text = `${spec.description} (${spec.range}; default ${spec.defaultText})`;
  return text.length <= 100 ? text : `${text.slice(0, 99)}…`;
}

/** Adds one Discord option per row of the table, in table order, after the image. */
export function addAnimateOptions<B extends SlashCommandOptionsOnlyBuilder>(
  builder: B,
  model?: ModelDefaults,
): B {
  for (const spec of optionSpecs(model)) {
    const name = spec.name;
    const description = describe(spec);
    if (name === 'prompt') {
      builder.addStringOption((o) => o.setName(name).setDescription(description).setMaxLength(500));
    } else if (AUTOCOMPLETE_OPTIONS.has(name)) {
      builder.addStringOption((o) =>
        o.setName(name).setDescription(description).setAutocomplete(true).setMaxLength(20),
      );
    } else if (spec.choices) {
      const option = new SlashCommandStringOption().setName(name).setDescription(description);
      option.addChoices(...spec.choices.map((c) => ({ name: c, value: c })));
      builder.addStringOption(option);
    } else if (spec.integer) {
      builder.addIntegerOption((o) => {
        o.setName(name).setDescription(description);
        if (spec.min !== undefined) o.setMinValue(spec.min);
        if (spec.max !== undefined) o.setMaxValue(spec.max);
        return o;
      });
    } else {
      builder.addNumberOption((o) => {
        o.setName(name).setDescription(description);
        if (spec.min !== undefined) o.setMinValue(spec.min);
        if (spec.max !== undefined) o.setMaxValue(spec.max);
        return o;
      });
    }
  }
  return builder;
}

/** Reads every table option the user set, as the grammar's input (values validated later, never clamped). */
export function readAnimateOptions(interaction: ChatInputCommandInteraction): AnimateOptionsInput {
  const input: Record<string, string | number> = {};
  for (const spec of optionSpecs()) {
    const option = interaction.options.get(spec.name);
    if (option?.value !== undefined && option.value !== null && typeof option.value !== 'boolean') {
      input[spec.name] = option.value;
    }
  }
  return input as AnimateOptionsInput;
}

const GUIDANCE_SUGGESTIONS = ['1-3', '0-2', '1-2', '2-4', '2.5-5'];

/** Autocomplete suggestions for `motion` and `guidance`, starting with what the user typed if valid. */
export function suggest(option: string, typed: string): ApplicationCommandOptionChoiceData<string>[] {
  const text = typed.trim().toLowerCase();
  const out: ApplicationCommandOptionChoiceData<string>[] = [];
  if (option === 'motion') {
    const n = Number(text);
    if (text && Number.isInteger(n) && n >= 1 && n <= 255) out.push({ name: `${n}`, value: `${n}` });
    for (const [name, value] of Object.entries(MOTION_PRESETS)) {
      if (!text || name.startsWith(text) || `${value}`.startsWith(text))
        out.push({ name: `${name} (${value})`, value: name });
    }
    if (out.length === 0)
      out.push({ name: 'motion is 1–255 or low|medium|high', value: text.slice(0, 20) || 'medium' });
  } else if (option === 'guidance') {
    if (text) {
      try {
        parseGuidance(text);
        out.push({ name: text, value: text });
      } catch {
        out.push({ name: `"${text.slice(0, 20)}" is not min-max, each 0–10`, value: text.slice(0, 20) });
      }
    }
    for (const g of GUIDANCE_SUGGESTIONS) {
      if (g !== text && (!text || g.startsWith(text)))
        out.push({ name: g === '1-3' ? '1-3 (default)' : g, value: g });
    }
  }
  return out.slice(0, 25);
}
