/**
 * Turns whatever a job threw into a short reason a user can read, and a code for metrics and
 * bots. Internals (paths, ffmpeg's stderr, tensor shapes, stacks) stay in the log, which the
 * caller writes with the error itself; the user gets the reason and the job id to quote.
 */
import { EngineError, ImageError, OptionError } from '@stillmotion/engine';

const REASONS: Record<string, string> = {
  video_error: 'the video could not be encoded',
  model_error: 'the model failed on this job',
  device_error: 'the GPU failed on this job',
  bad_size: 'the picture’s size cannot be used with this model',
};

export function describeFailure(err: unknown, jobId: string): { message: string; code: string } {
  // Written for users, naming the option or the limit.
  if (err instanceof ImageError || err instanceof OptionError)
    return { message: err.message, code: 'bad_input' };
  // The job store lost the picture, or had no room for the result.
  if (err instanceof EngineError && (err.code === 'input_missing' || err.code === 'store_full'))
    return { message: err.message, code: err.code };
  const code = err instanceof EngineError ? err.code : 'engine_error';
  const reason = REASONS[code] ?? 'the engine failed on this job';
  return { message: `${reason}; try again, or tell the operator job ${jobId}`, code };
}
