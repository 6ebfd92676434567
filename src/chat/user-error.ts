/**
 * Maps any error to the short reply a chat user sees: what went wrong and what to do. `expected`
 * is false for faults (bugs, GPU failures) that the adapter should log at error level. Error
 * messages can quote the user (a typed value, a file name), so each goes through the platform's
 * `inert` escape; the words around them are the bot's own.
 */

import { EngineError, ImageError, OptionError } from '@stillmotion/engine';
import { ServiceError } from '../service/types.ts';
import { DownloadError } from './download.ts';
import type { Escape } from './render.ts';
import { UploadTooLargeError } from './upload-fit.ts';

export interface UserError {
  readonly text: string;
  readonly expected: boolean;
}

const PICTURE_TYPES = 'PNG, JPEG, WebP, GIF or AVIF';

/**
 * `inert` makes user text inert in the platform's markup; `help` is how users reach the option
 * list there, e.g. "`/animate help`".
 */
export function userError(err: unknown, inert: Escape, help = '`/animate help`'): UserError {
  if (err instanceof OptionError) {
    return { text: `❌ ${inert(capitalize(err.message))}. See ${help} for every option.`, expected: true };
  }
  if (err instanceof ImageError) return { text: imageText(err.code, inert(err.message)), expected: true };
  if (err instanceof DownloadError)
    return { text: downloadText(err.code, inert(err.message)), expected: true };
  if (err instanceof ServiceError) return serviceText(err, inert, help);
  if (err instanceof UploadTooLargeError)
    return { text: `❌ ${inert(capitalize(err.message))}.`, expected: true };
  if (err instanceof EngineError && err.code === 'canceled')
    return { text: '✖️ The job was canceled.', expected: true };
  if (err instanceof EngineError) {
    return {
      text: `❌ The GPU failed on this job (${inert(err.message)}). Try again, perhaps with fewer frames.`,
      expected: false,
    };
  }
  return { text: '❌ Something went wrong on my side. Please try again in a moment.', expected: false };
}

/** `message` is already escaped. */
function imageText(code: string, message: string): string {
  switch (code) {
    case 'unsupported_type':
      return `❌ That file is not a picture I can use. Send a ${PICTURE_TYPES} picture.`;
    case 'corrupt_image':
      return '❌ That picture is damaged or cut off. Send it again or try another one.';
    case 'image_too_large':
    case 'file_too_large':
      return `❌ That picture is too large (${message}). Send a smaller one.`;
    default:
      return `❌ ${capitalize(message)}.`;
  }
}

/** `message` is already escaped. */
function downloadText(code: DownloadError['code'], message: string): string {
  switch (code) {
    case 'host_not_allowed':
      return `❌ I can't fetch that picture: ${message}. Upload it as an attachment instead.`;
    case 'too_large':
      return `❌ That picture is too large: ${message}. Send a smaller one.`;
    case 'not_image':
      return `❌ That file is not a picture I can use (${message}). Send a ${PICTURE_TYPES} picture.`;
    case 'timeout':
      return '❌ The picture took too long to download. Try again, or upload a smaller one.';
    default:
      return `❌ I couldn't download that picture (${message}). Upload it again.`;
  }
}

function serviceText(err: ServiceError, inert: Escape, help: string): UserError {
  const msg = inert(capitalize(err.message));
  if (err.option) return { text: `❌ ${msg}. See ${help} for every option.`, expected: true };
  switch (err.status) {
    case 400:
      return { text: `❌ ${msg}. See ${help}.`, expected: true };
    case 403:
      return { text: `🚫 ${msg}. Only the job's owner or an admin can do that.`, expected: true };
    case 404:
      return { text: '❌ That job no longer exists (results are kept for a day).', expected: true };
    case 409:
      return { text: `⏳ ${msg}. Wait until the job has finished.`, expected: true };
    case 413:
    case 415:
    case 422:
      return { text: imageText(err.code, inert(err.message)), expected: true };
    case 429:
      return { text: `⏳ ${msg}. Wait for a job to finish, then try again.`, expected: true };
    case 503:
      return {
        text: '⏳ The GPU service is not reachable right now. Try again in a minute.',
        expected: false,
      };
    default:
      return { text: `❌ The GPU service failed (${msg}). Try again in a moment.`, expected: false };
  }
}

function capitalize(s: string): string {
  const t = s.replace(/[.\s]+$/, '');
  return t.charAt(0).toUpperCase() + t.slice(1);
}
