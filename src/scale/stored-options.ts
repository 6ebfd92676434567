/**
 * A worker runs only options it has checked itself: the job hash in Redis is shared state that
 * anyone with access to Redis can write. The stored options must be exactly what the engine's
 * option table resolves them to (every field present, in range, nothing extra, nothing coerced).
 */
import {
  type AnimateOptions,
  type AnimateOptionsInput,
  OptionError,
  resolveOptions,
} from '@stillmotion/engine';
import type { ModelSummary } from '../service/engine-port.ts';

/** The stored options, checked; throws OptionError (or TypeError) naming what is wrong. */
export function checkStoredOptions(stored: unknown, model: ModelSummary): AnimateOptions {
  if (stored === null || typeof stored !== 'object' || Array.isArray(stored))
    throw new TypeError('the options are not an object');
  const resolved = resolveOptions(stored as AnimateOptionsInput, model);
  const given = stored as Record<string, unknown>;
  const names = new Set([...Object.keys(given), ...Object.keys(resolved)]);
  for (const name of names) {
    const want = (resolved as unknown as Record<string, unknown>)[name];
    if (JSON.stringify(given[name]) !== JSON.stringify(want)) {
      throw new OptionError(
        name,
        want === undefined ? 'not an option' : String(want),
        want === undefined
          ? `${name} is not an option`
          : `${name} is ${JSON.stringify(given[name]) ?? 'missing'}, not a resolved value`,
      );
    }
  }
  return resolved;
}
