/**
 * Reads the multipart body of `POST /v1/jobs`: one `image` file, option fields named as in the
 * option table, and (token holders only) `user` and `delivery` (JSON). Anything else is refused
 * by name. `beforeImage` runs as the picture starts, before its bytes are read.
 */
import type { AnimateOptionsInput, OptionSpec } from '@stillmotion/engine';
import type { FastifyRequest } from 'fastify';
import { refuse } from '../service/errors.ts';
import type { DeliveryTarget } from '../service/types.ts';
import { requireTrusted } from './auth.ts';

export interface JobForm {
  readonly image: Buffer;
  readonly options: AnimateOptionsInput;
  readonly user?: string;
  readonly delivery?: DeliveryTarget;
}

export interface FormRules {
  /** May name `user` and `delivery` (a token holder); else those fields get 403. */
  readonly trusted: boolean;
  /** Called once, when the image part starts, with the user named so far. */
  readonly beforeImage?: (user: string | undefined) => Promise<void> | undefined;
}

export async function readJobForm(
  req: FastifyRequest,
  specs: readonly OptionSpec[],
  rules: FormRules,
): Promise<JobForm> {
  if (!req.isMultipart()) {
    throw refuse('unsupported_media_type', 'send multipart/form-data with an image field');
  }
  const names = new Set<string>(specs.map((s) => s.name));
  const options: Record<string, string> = {};
  let image: Buffer | undefined;
  let user: string | undefined;
  let delivery: DeliveryTarget | undefined;
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      if (part.fieldname !== 'image' || image) {
        await part.toBuffer().catch(() => undefined);
        throw refuse('bad_field', 'send exactly one file, in a field named image', {
          option: part.fieldname,
        });
      }
      await rules.beforeImage?.(user);
      image = await part.toBuffer();
      continue;
    }
    if (part.valueTruncated || part.fieldnameTruncated) {
      throw refuse('field_too_large', `the form field ${part.fieldname} is too long`, {
        option: part.fieldname,
      });
    }
    const value = typeof part.value === 'string' ? part.value : String(part.value);
    if (part.fieldname === 'image') {
      throw refuse('missing_image', 'image must be sent as a file', { option: 'image' });
    } else if (part.fieldname === 'user') {
      requireTrusted(rules.trusted, 'naming a user', 'user');
      user = value.trim() || undefined;
    } else if (part.fieldname === 'delivery') {
      requireTrusted(rules.trusted, 'a delivery target', 'delivery');
      delivery = parseDelivery(value);
    } else if (names.has(part.fieldname)) {
      // Empty fields (an untouched form input) mean "default".
      if (value.trim() !== '') options[part.fieldname] = value;
    } else {
      throw refuse(
        'unknown_option',
        `unknown option "${part.fieldname}"; options are ${[...names].join(', ')}`,
        { option: part.fieldname },
      );
    }
  }
  if (!image || image.length === 0) {
    throw refuse('missing_image', 'the image field is missing or empty', { option: 'image' });
  }
  return { image, options, user, delivery };
}

function parseDelivery(text: string): DeliveryTarget {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw refuse('bad_delivery', 'delivery must be a JSON object', { option: 'delivery' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw refuse('bad_delivery', 'delivery must be a JSON object', { option: 'delivery' });
  }
  return value as DeliveryTarget;
}
