/** Turns whatever a job threw into a reason a user can read and a code for metrics and bots. */
import { EngineError, ImageError, OptionError } from '@stillmotion/engine';

export function describeFailure(err: unknown): { message: string; code: string } {
  if (err instanceof ImageError || err instanceof OptionError)
    return { message: err.message, code: 'bad_input' };
  if (err instanceof EngineError && err.code === 'input_missing')
    return { message: err.message, code: err.code };
  if (err instanceof EngineError) return { message: `the engine failed: ${err.message}`, code: err.code };
  const text = err instanceof Error ? err.message : String(err);
  return { message: `the engine failed: ${text.split('\n')[0]}`, code: 'engine_error' };
}
