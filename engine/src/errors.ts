/**
 * Coded error classes of the engine. Each has a stable `code` that callers map to user-facing
 * replies (HTTP status, chat message); messages are written for the user.
 */
export class EngineError extends Error {
  override name = 'EngineError';
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** An option outside its range, or unknown. Names the option and its range. */
export class OptionError extends EngineError {
  override name = 'OptionError';
  readonly option: string;
  readonly range: string;
  constructor(option: string, range: string, message: string) {
    super('bad_option', message);
    this.option = option;
    this.range = range;
  }
}

/** The input is not an image we accept: wrong type, corrupt, too large. */
export class ImageError extends EngineError {
  override name = 'ImageError';
  /** HTTP-ish status: 415 wrong type, 422 corrupt, 413 too large. */
  readonly status: number;
  constructor(
    code: 'unsupported_type' | 'corrupt_image' | 'image_too_large' | 'file_too_large',
    message: string,
    status: number,
    options?: ErrorOptions,
  ) {
    super(code, message, options);
    this.status = status;
  }
}

/** A base for the errors that always carry one code: `class X extends withCode('X', 'x_error') {}`. */
function withCode(name: string, code: string) {
  return class extends EngineError {
    override name = name;
    constructor(message: string, options?: ErrorOptions) {
      super(code, message, options);
    }
  };
}

/** The model folder is missing or malformed. */
export class ModelError extends withCode('ModelError', 'model_error') {}

/** The requested execution provider cannot be used. */
export class DeviceError extends withCode('DeviceError', 'device_error') {}

/** ffmpeg is missing or failed. */
export class VideoError extends withCode('VideoError', 'video_error') {}

/** The job was canceled through its AbortSignal. */
export class CanceledError extends EngineError {
  override name = 'CanceledError';
  constructor(message = 'canceled') {
    super('canceled', message);
  }
}
