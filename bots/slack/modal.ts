/**
 * The /animate modal, built from the engine's option table: image (file_input, one picture),
 * prompt, motion (select), fps, frames, seed, loop and smooth (selects) and the experimental steer, prefilled with
 * what the user typed. Typed options
 * without a field (steps, noise, …), the channel and thread, and — for the shortcut — the source
 * file id travel in `private_metadata`, since a file_input cannot be preselected.
 */
import type { types } from '@slack/bolt';
import { type AnimateOptionsInput, MOTION_PRESETS, type OptionName, optionSpecs } from '@stillmotion/engine';
import type { ModelDefaults } from '../../src/chat/index.ts';
import { mrkdwn } from './mrkdwn.ts';

type KnownBlock = types.KnownBlock;
type ModalView = types.ModalView;

export const MODAL_CALLBACK = 'stillmotion_animate';
/** The option fields the modal shows, in order; the others ride in private_metadata. */
export const MODAL_FIELDS = [
  'prompt',
  'motion',
  'fps',
  'frames',
  'seed',
  'loop',
  'smooth',
  'steer',
] as const satisfies readonly OptionName[];
/** Labels of the select fields made from the table's choices. */
const CHOICE_LABELS = { loop: 'Loop', smooth: 'Smooth playback' } as const;
export const IMAGE_BLOCK = 'image';
export const IMAGE_TYPES = ['png', 'jpg', 'jpeg', 'webp', 'gif', 'avif'];

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
const field = (name: OptionName, model?: ModelDefaults) => optionSpecs(model).find((s) => s.name === name)!;
const hint = (name: OptionName, model?: ModelDefaults) => {
  const s = field(name, model);
  return plain(`${s.description}: ${s.range}, default ${s.defaultText}`.slice(0, 150));
};

function motionOptions(model: ModelDefaults | undefined, typed: string | undefined) {
  const options = Object.entries(MOTION_PRESETS).map(([name, v]) => ({
    text: plain(`${name} (${v})`),
    value: String(v),
  }));
  const add = (v: number, label: string) => {
    if (!options.some((o) => o.value === String(v))) options.push({ text: plain(label), value: String(v) });
  };
  const def = model?.motion ?? 127;
  add(def, `model default (${def})`);
  const typedValue = typed === undefined ? undefined : (MOTION_PRESETS[typed.toLowerCase()] ?? Number(typed));
  if (typedValue !== undefined && Number.isInteger(typedValue)) add(typedValue, `${typedValue} (typed)`);
  options.sort((a, b) => Number(a.value) - Number(b.value));
  const initial = options.find((o) => o.value === String(typedValue ?? def));
  return { options, initial };
}

function numberInput(
  name: 'fps' | 'frames' | 'seed',
  model: ModelDefaults | undefined,
  typed: string | undefined,
): KnownBlock {
  const s = field(name, model);
  const initial =
    typed ??
    (name === 'fps' ? String(model?.fps ?? '') : name === 'frames' ? String(model?.frames ?? '') : '');
  return {
    type: 'input',
    block_id: name,
    optional: true,
    label: plain(name === 'seed' ? 'Seed (empty: random)' : name === 'fps' ? 'Frames per second' : 'Frames'),
    hint: hint(name, model),
    element: {
      type: 'number_input',
      action_id: 'value',
      is_decimal_allowed: false,
      ...(s.min !== undefined ? { min_value: String(s.min) } : {}),
      ...(s.max !== undefined ? { max_value: String(s.max) } : {}),
      ...(/^\d+$/.test(initial) ? { initial_value: initial } : {}),
    },
  } as KnownBlock;
}

/** The experimental steer, 0–1 with decimals; its hint (from the table) says what it is and is not. */
function steerInput(model: ModelDefaults | undefined, typed: string | undefined): KnownBlock {
  const s = field('steer', model);
  return {
    type: 'input',
    block_id: 'steer',
    optional: true,
    label: plain('Steer toward the prompt (experimental)'),
    hint: hint('steer', model),
    element: {
      type: 'number_input',
      action_id: 'value',
      is_decimal_allowed: true,
      min_value: String(s.min),
      max_value: String(s.max),
      ...(typed !== undefined && /^(\d+(\.\d*)?|\.\d+)$/.test(typed) ? { initial_value: typed } : {}),
    },
  } as KnownBlock;
}

/** A select of the option's choices from the table, set to what was typed or to the default. */
function choiceSelect(name: keyof typeof CHOICE_LABELS, typed: string | undefined): KnownBlock {
  const s = field(name);
  const options = (s.choices ?? []).map((c) => ({
    text: plain(c === s.defaultText ? `${c} (default)` : c),
    value: c,
  }));
  const initial = options.find((o) => o.value === (typed?.toLowerCase() ?? s.defaultText));
  return {
    type: 'input',
    block_id: name,
    optional: true,
    label: plain(CHOICE_LABELS[name]),
    hint: hint(name),
    element: {
      type: 'static_select',
      action_id: 'value',
      options,
      ...(initial ? { initial_option: initial } : {}),
    },
  } as KnownBlock;
}

/** The modal. `typed` are the options from the command text (strings, as typed). */
export function animateModal(args: {
  readonly model: ModelDefaults | undefined;
  readonly typed: Readonly<Record<string, string>>;
  readonly metadata: ModalMetadata;
  /** The shortcut's picture: shown in a context block instead of the file_input. */
  readonly sourceFile?: { readonly id: string; readonly name?: string };
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
  blocks.push({
    type: 'input',
    block_id: 'prompt',
    optional: true,
    label: plain('Prompt'),
    hint: hint('prompt', model),
    element: {
      type: 'plain_text_input',
      action_id: 'value',
      multiline: true,
      max_length: 500,
      ...(typed.prompt ? { initial_value: typed.prompt } : {}),
    },
  });
  const motion = motionOptions(model, typed.motion);
  blocks.push({
    type: 'input',
    block_id: 'motion',
    optional: true,
    label: plain('Motion'),
    hint: hint('motion', model),
    element: {
      type: 'static_select',
      action_id: 'value',
      options: motion.options,
      ...(motion.initial ? { initial_option: motion.initial } : {}),
    },
  } as KnownBlock);
  blocks.push(
    numberInput('fps', model, typed.fps),
    numberInput('frames', model, typed.frames),
    numberInput('seed', model, typed.seed),
    choiceSelect('loop', typed.loop),
    choiceSelect('smooth', typed.smooth),
    steerInput(model, typed.steer),
  );
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
export function splitTyped(options: AnimateOptionsInput): {
  fields: Record<string, string>;
  extra: Record<string, string>;
} {
  const fields: Record<string, string> = {};
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(options)) {
    if (v === undefined) continue;
    const text = Array.isArray(v) ? v.join('-') : String(v);
    if ((MODAL_FIELDS as readonly string[]).includes(k)) fields[k] = text;
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
export function readSubmission(view: { private_metadata: string; state: { values: unknown } }): {
  metadata: ModalMetadata;
  options: Record<string, string>;
  fileId: string | undefined;
} {
  const metadata = JSON.parse(view.private_metadata || '{}') as ModalMetadata;
  const values = view.state.values as StateValues;
  const options: Record<string, string> = { ...metadata.extra };
  for (const name of MODAL_FIELDS) {
    const v = values[name]?.value;
    const text = (v?.selected_option?.value ?? v?.value ?? '').trim();
    if (text) options[name] = text;
  }
  const fileId = values[IMAGE_BLOCK]?.file?.files?.[0]?.id ?? metadata.file_id;
  return { metadata, options, fileId };
}
