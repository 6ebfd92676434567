/**
 * The /animate modal, built from the option table (a parameter, default the engine's): the image
 * (file_input, one picture), then one field per row that is not `advanced` (prompt, motion, fps,
 * frames, seed, loop, smooth and the experimental steer), each of the kind its row names, prefilled
 * with what the user typed or the model's default. Typed options without a field (steps, noise, …),
 * the channel and thread, and — for the shortcut — the source file id travel in `private_metadata`,
 * since a file_input cannot be preselected.
 */
import type { types } from '@slack/bolt';
import {
  type AnimateOptionsInput,
  type OptionSpec,
  type OptionTable,
  optionSpecs,
  optionValueText,
} from '@stillmotion/engine';
import type { ModelDefaults } from '../../src/chat/index.ts';
import { mrkdwn } from './mrkdwn.ts';

type KnownBlock = types.KnownBlock;
type ModalView = types.ModalView;

export const MODAL_CALLBACK = 'stillmotion_animate';
export const IMAGE_BLOCK = 'image';
export const IMAGE_TYPES = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'avif'];

/** The rows the modal shows a field for, in table order; the others ride in private_metadata. */
export function modalSpecs(model?: ModelDefaults, table: OptionTable = optionSpecs): readonly OptionSpec[] {
  return table(model).filter((s) => !s.advanced);
}

/** The names of the modal's option fields (their block ids). */
export function modalFields(table: OptionTable = optionSpecs): readonly string[] {
  return modalSpecs(undefined, table).map((s) => s.name);
}

export interface ModalMetadata {
  readonly channel: string;
  /** The thread the result goes into; undefined for /animate (the status message starts one). */
  readonly thread_ts?: string;
  /** The shortcut's source picture. */
  readonly file_id?: string;
  /** Shown above the progress, e.g. "several pictures: used the first". */
  readonly note?: string;
  /** Typed options that have no field in the modal. */
  readonly extra: Readonly<Record<string, string>>;
}

const plain = (text: string) => ({ type: 'plain_text' as const, text, emoji: true });
const hint = (s: OptionSpec) => plain(`${s.description}: ${s.range}, default ${s.defaultText}`.slice(0, 150));
const WHOLE = /^\d+$/;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

/** One optional input block for the row, around its element. */
function inputBlock(
  s: OptionSpec,
  { type, ...element }: { type: string } & Record<string, unknown>,
): KnownBlock {
  return {
    type: 'input',
    block_id: s.name,
    optional: true,
    label: plain(s.label),
    hint: hint(s),
    element: { type, action_id: 'value', ...element },
  } as KnownBlock;
}

/** A select element with its initial option, where one matches. */
function select(options: { text: ReturnType<typeof plain>; value: string }[], initial: string | undefined) {
  const chosen = options.find((o) => o.value === initial);
  return { type: 'static_select', options, ...(chosen ? { initial_option: chosen } : {}) };
}

/** Free text up to the row's length, multiline. */
function textInput(s: OptionSpec, typed: string | undefined): KnownBlock {
  return inputBlock(s, {
    type: 'plain_text_input',
    multiline: true,
    ...(s.maxLength !== undefined ? { max_length: s.maxLength } : {}),
    ...(typed ? { initial_value: typed } : {}),
  });
}

/** The presets, the model's default and what was typed, by value; set to the typed value or the default. */
function presetSelect(s: OptionSpec, typed: string | undefined): KnownBlock {
  const presets = s.presets ?? {};
  const options = Object.entries(presets).map(([name, v]) => ({
    text: plain(`${name} (${v})`),
    value: String(v),
  }));
  const add = (v: number, label: string) => {
    if (!options.some((o) => o.value === String(v))) options.push({ text: plain(label), value: String(v) });
  };
  const def = Number(s.default);
  add(def, `${s.fromModel ? 'model default' : 'default'} (${def})`);
  const typedValue = typed === undefined ? undefined : (presets[typed.toLowerCase()] ?? Number(typed));
  if (typedValue !== undefined && Number.isInteger(typedValue)) add(typedValue, `${typedValue} (typed)`);
  options.sort((a, b) => Number(a.value) - Number(b.value));
  return inputBlock(s, select(options, String(typedValue ?? def)));
}

/**
 * A number in the row's range: whole or decimal as the row says. Prefilled with what was typed, or
 * with the model's own default where the model is known (the seed and the steer start empty).
 */
function numberInput(s: OptionSpec, model: ModelDefaults | undefined, typed: string | undefined): KnownBlock {
  const whole = s.kind === 'integer';
  const fromModel = model && s.fromModel && s.default !== undefined ? optionValueText(s.default) : '';
  const initial = typed ?? fromModel;
  return inputBlock(s, {
    type: 'number_input',
    is_decimal_allowed: !whole,
    ...(s.min !== undefined ? { min_value: String(s.min) } : {}),
    ...(s.max !== undefined ? { max_value: String(s.max) } : {}),
    ...((whole ? WHOLE : DECIMAL).test(initial) ? { initial_value: initial } : {}),
  });
}

/** A select of the row's choices, set to what was typed or to the default. */
function choiceSelect(s: OptionSpec, typed: string | undefined): KnownBlock {
  const def = s.default === undefined ? undefined : optionValueText(s.default);
  const options = (s.choices ?? []).map((c) => ({ text: plain(c === def ? `${c} (default)` : c), value: c }));
  return inputBlock(s, select(options, typed?.toLowerCase() ?? def));
}

/** A single-line text field (a `ramp` such as guidance, when a table shows one). */
function lineInput(s: OptionSpec, typed: string | undefined): KnownBlock {
  return inputBlock(s, { type: 'plain_text_input', ...(typed ? { initial_value: typed } : {}) });
}

/** The field for one row, of the kind the row names. */
function optionField(s: OptionSpec, model: ModelDefaults | undefined, typed: string | undefined): KnownBlock {
  switch (s.kind) {
    case 'text':
      return textInput(s, typed);
    case 'preset':
      return presetSelect(s, typed);
    case 'integer':
    case 'number':
      return numberInput(s, model, typed);
    case 'choice':
      return choiceSelect(s, typed);
    case 'ramp':
      return lineInput(s, typed);
  }
}

/** The modal. `typed` are the options from the command text (strings, as typed). */
export function animateModal(args: {
  readonly model: ModelDefaults | undefined;
  readonly typed: Readonly<Record<string, string>>;
  readonly metadata: ModalMetadata;
  /** The shortcut's picture: shown in a context block instead of the file_input. */
  readonly sourceFile?: { readonly id: string; readonly name?: string };
  /** The option table (default: the engine's). */
  readonly table?: OptionTable;
}): ModalView {
  const { model, typed, metadata, sourceFile } = args;
  const blocks: KnownBlock[] = [];
  if (sourceFile) {
    blocks.push({
      type: 'context',
      block_id: 'source',
      elements: [
        {
          type: 'image',
          slack_file: { id: sourceFile.id },
          alt_text: sourceFile.name ?? 'the picture to animate',
        },
        { type: 'mrkdwn', text: `Animating *${mrkdwn(sourceFile.name ?? 'this picture')}*` },
      ],
    } as KnownBlock);
  } else {
    blocks.push({
      type: 'input',
      block_id: IMAGE_BLOCK,
      label: plain('Picture'),
      hint: plain('PNG, JPEG, WebP, GIF or AVIF; one picture.'),
      element: { type: 'file_input', action_id: 'file', filetypes: IMAGE_TYPES, max_files: 1 },
    } as KnownBlock);
  }
  for (const spec of modalSpecs(model, args.table)) blocks.push(optionField(spec, model, typed[spec.name]));
  const extras = Object.entries(metadata.extra);
  if (extras.length > 0) {
    blocks.push({
      type: 'context',
      block_id: 'extra',
      elements: [
        { type: 'mrkdwn', text: `Also: \`${mrkdwn(extras.map(([k, v]) => `--${k} ${v}`).join(' '))}\`` },
      ],
    });
  }
  return {
    type: 'modal',
    callback_id: MODAL_CALLBACK,
    title: plain('Animate a picture'),
    submit: plain('Animate'),
    close: plain('Cancel'),
    private_metadata: JSON.stringify(metadata),
    blocks,
  };
}

/** Splits typed options into the modal's fields and the rest (which go to private_metadata). */
export function splitTyped(
  options: AnimateOptionsInput,
  table: OptionTable = optionSpecs,
): {
  fields: Record<string, string>;
  extra: Record<string, string>;
} {
  const shown = modalFields(table);
  const fields: Record<string, string> = {};
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join('-') : String(v);
    if (shown.includes(k)) fields[k] = text;
    else extra[k] = text;
  }
  return { fields, extra };
}

type StateValues = Record<
  string,
  Record<
    string,
    { value?: string | null; selected_option?: { value: string } | null; files?: Array<{ id: string }> }
  >
>;

/** Reads a submitted modal back into options (strings, as typed) and the chosen picture's id. */
export function readSubmission(
  view: { private_metadata: string; state: { values: unknown } },
  table: OptionTable = optionSpecs,
): {
  metadata: ModalMetadata;
  options: Record<string, string>;
  fileId: string | undefined;
} {
  const metadata = JSON.parse(view.private_metadata || '{}') as ModalMetadata;
  const values = view.state.values as StateValues;
  const options: Record<string, string> = { ...metadata.extra };
  for (const name of modalFields(table)) {
    const v = values[name]?.value;
    const text = (v?.selected_option?.value ?? v?.value ?? '').trim();
    if (text) options[name] = text;
  }
  const fileId = values[IMAGE_BLOCK]?.file?.files?.[0]?.id ?? metadata.file_id;
  return { metadata, options, fileId };
}
