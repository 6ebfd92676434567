/** The engine's coded errors: each class keeps its name, its one code, the message and the cause. */
import { describe, expect, it } from 'vitest';
import { DeviceError, EngineError, ModelError, VideoError } from '../../engine/src/errors.ts';

describe('coded errors', () => {
  it.each([
    [ModelError, 'ModelError', 'model_error'],
    [DeviceError, 'DeviceError', 'device_error'],
    [VideoError, 'VideoError', 'video_error'],
  ] as const)('%o has its own name and code', (Class, name, code) => {
    const cause = new Error('underneath');
    const err = new Class('what went wrong', { cause });
    expect(err).toBeInstanceOf(EngineError);
    expect(err).toBeInstanceOf(Class);
    expect(err).toMatchObject({ name, code, message: 'what went wrong', cause });
    expect(String(err)).toBe(`${name}: what went wrong`);
    for (const other of [ModelError, DeviceError, VideoError].filter((c) => c !== Class))
      expect(err).not.toBeInstanceOf(other);
  });
});
