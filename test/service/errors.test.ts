/**
 * The error catalog (src/service/errors.ts): each code has one status, every refusal in src/ is
 * built through it, and the engine's picture refusals keep the statuses the engine gives them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageError, inspectImage } from '@stillmotion/engine';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS, imageRefusal, refuse } from '../../src/service/errors.ts';
import { ownedJob } from '../../src/service/job-lifecycle.ts';
import { ServiceError } from '../../src/service/types.ts';

const src = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return e.name.endsWith('.ts') ? [full] : [];
  });
}

describe('the error catalog', () => {
  it('builds a refusal with the status of its code', () => {
    const err = refuse('user_limit', 'too many', { option: 'per_user' });
    expect(err).toBeInstanceOf(ServiceError);
    expect(err).toMatchObject({ status: 429, code: 'user_limit', message: 'too many', option: 'per_user' });
    for (const [code, status] of Object.entries(ERROR_STATUS)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
  });

  it('is the only place in src/ that spells out a status for a code', () => {
    const inline: string[] = [];
    for (const file of sources(src)) {
      const rel = path.relative(src, file);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new ServiceError\(\s*([^,]+),/g)) {
        // The catalog itself; the HTTP client rebuilds the remote sidecar's refusal as it came.
        const allowed =
          (rel === path.join('service', 'errors.ts') &&
            (m[1] === 'ERROR_STATUS[code]' || m[1] === 'status ?? err.status')) ||
          (rel === path.join('service', 'http-client.ts') && m[1] === 'res.status');
        if (!allowed) inline.push(`${rel}: ${m[0]}`);
      }
    }
    expect(inline).toEqual([]);
  });

  it("keeps the engine's status for each picture it refuses", async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const refusals: (() => Promise<unknown>)[] = [
      () => inspectImage(Buffer.from('not a picture')),
      () => inspectImage(png.subarray(0, 40)),
      () => inspectImage(png, { maxBytes: 10 }),
      () => inspectImage(png, { maxPixels: 10 }),
    ];
    const seen = new Set<string>();
    for (const r of refusals) {
      const err = await r().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ImageError);
      const engine = err as ImageError;
      const service = imageRefusal(engine);
      expect(service.code).toBe(engine.code);
      expect(service.status, engine.code).toBe(engine.status);
      expect(service.code in ERROR_STATUS, engine.code).toBe(true);
      seen.add(engine.code);
    }
    expect([...seen].sort()).toEqual([
      'corrupt_image',
      'file_too_large',
      'image_too_large',
      'unsupported_type',
    ]);
  });

  it('refuses a job to anyone but its owner or an admin, and an unknown job with 404', () => {
    const job = { user: 'web:a' };
    expect(ownedJob(job, 'j1', { user: 'web:a', admin: false })).toBe(job);
    expect(ownedJob(job, 'j1', { user: 'web:b', admin: true })).toBe(job);
    expect(() => ownedJob(job, 'j1', { user: 'web:b', admin: false })).toThrow(
      expect.objectContaining({ status: 403, code: 'not_owner' }),
    );
    expect(() => ownedJob(undefined, 'j1', { user: 'web:a', admin: true })).toThrow(
      expect.objectContaining({ status: 404, code: 'not_found', message: 'no job j1' }),
    );
  });
});
