/** What a user reads about a failed job: a short reason and the job id, never internals. */
import { EngineError, ImageError, VideoError } from '@stillmotion/engine';
import { describe, expect, it } from 'vitest';
import { describeFailure } from '../../src/service/failure.ts';

describe('describeFailure', () => {
  it('keeps paths, ffmpeg stderr, tensor shapes and stacks out of the reason', () => {
    const internals = [
      new VideoError(
        'ffmpeg failed: /srv/stillmotion/.data/results/abc.mp4: Permission denied\n[libx264 @ 0x55d0] broken',
      ),
      new EngineError('model_error', 'unet: bad feed. Given: sample: float32 [1,14,8,72,128]. Expected: …'),
      Object.assign(new Error('ENOENT: no such file /home/op/models/unet.onnx'), {
        stack: 'at x (/src/a.ts:1)',
      }),
    ];
    for (const err of internals) {
      const { message } = describeFailure(err, 'job123');
      expect(message).toContain('job job123');
      for (const leak of ['/srv', '/home', 'libx264', 'float32', 'ENOENT', '.ts:', 'Permission']) {
        expect(message, err.message).not.toContain(leak);
      }
    }
    expect(describeFailure(internals[0], 'j').code).toBe('video_error');
    expect(describeFailure(internals[2], 'j').code).toBe('engine_error');
  });

  it('passes on the reasons written for users', () => {
    const bad = new ImageError('corrupt_image', 'this png file is damaged; please upload it again', 422);
    expect(describeFailure(bad, 'j')).toEqual({ message: bad.message, code: 'bad_input' });
  });
});
