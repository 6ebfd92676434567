import { EngineError, ImageError, OptionError } from '@stillmotion/engine';
import { describe, expect, it } from 'vitest';
import { DownloadError } from '../../src/chat/download.ts';
import { verbatim } from '../../src/chat/render.ts';
import { userError } from '../../src/chat/user-error.ts';
import { ServiceError } from '../../src/service/types.ts';

describe('userError', () => {
  it('says what is wrong and what to do for each case', () => {
    const cases: [unknown, RegExp][] = [
      [
        new ImageError('unsupported_type', 'not an image', 415),
        /not a picture.*PNG, JPEG, WebP, GIF or AVIF/,
      ],
      [new ImageError('file_too_large', 'over 20 MB', 413), /too large.*smaller/],
      [new ServiceError(429, 'queue_full', 'the queue is full (100 jobs)'), /queue is full.*try again/],
      [new ServiceError(429, 'user_limit', 'you already have 3 jobs queued or running'), /3 jobs.*Wait/],
      [
        new OptionError('motion', '1–255', 'motion must be a whole number in 1–255 (got "300")'),
        /Motion must.*1–255.*help/,
      ],
      [
        new ServiceError(400, 'bad_option', 'fps must be in 1–30', { option: 'fps' }),
        /Fps must be in 1–30.*help/,
      ],
      [new EngineError('engine_error', 'CUDA out of memory'), /GPU failed.*Try again/],
      [
        new DownloadError('host_not_allowed', 'pictures can only be downloaded from x'),
        /can't fetch.*Upload it/,
      ],
      [new DownloadError('not_image', 'text/plain'), /not a picture/],
      [new DownloadError('too_large', 'the picture is larger than 1 MB'), /too large.*smaller/],
      [new ServiceError(403, 'forbidden', 'not your job'), /owner or an admin/],
    ];
    for (const [err, re] of cases) expect(userError(err, verbatim).text).toMatch(re);
  });

  it('marks faults as unexpected and hides their internals', () => {
    const r = userError(new TypeError('x is undefined'), verbatim);
    expect(r.expected).toBe(false);
    expect(r.text).not.toContain('undefined');
    expect(userError(new EngineError('engine_error', 'boom'), verbatim).expected).toBe(false);
    expect(userError(new ImageError('corrupt_image', 'truncated', 422), verbatim).expected).toBe(true);
  });
});
