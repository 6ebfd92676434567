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

/** The model folder is missing or malformed. */
export class ModelError extends EngineError {
  override name = 'ModelError';
  constructor(message: string, options?: ErrorOptions) {
    super('model_error', message, options);
  }
}

/** The requested execution provider cannot be used. */
export class DeviceError extends EngineError {
  override name = 'DeviceError';
  constructor(message: string, options?: ErrorOptions) {
    super('device_error', message, options);
  }
}

/** ffmpeg is missing or failed. */
export class VideoError extends EngineError {
  override name = 'VideoError';
  constructor(message: string, options?: ErrorOptions) {
    super('video_error', message, options);
  }
}

/** The job was canceled through its AbortSignal. */
export class CanceledError extends EngineError {
  override name = 'CanceledError';
  constructor(message = 'canceled') {
    super('canceled', message);
  }
}
