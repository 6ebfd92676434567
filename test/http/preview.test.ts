/** Live previews over HTTP: `GET /v1/jobs/:id/preview` and the SSE `preview` events, on the tiny model. */
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PreviewStore } from '../../src/service/preview-store.ts';
import type { JobView } from '../../src/service/types.ts';
import { ADMIN_TOKEN, call, ended, type Harness, png, postJob, startHarness, waitFor } from './harness.ts';

/** Reads SSE events (name and data) until the stream ends. */
async function readEvents(url: string): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const res = await fetch(url);
  const out: { event: string; data: Record<string, unknown> }[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const lines = buffer.slice(0, cut).split('\n');
      buffer = buffer.slice(cut + 2);
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7);
      const data = lines.find((l) => l.startsWith('data: '))?.slice(6);
      if (event && data) out.push({ event, data: JSON.parse(data) });
    }
  }
  return out;
}

describe('GET /v1/jobs/:id/preview', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { warm: false });
  });
  afterAll(async () => h?.close());

  it('404 JSON before the first step; the latest WebP while running and after the end; SSE says when', async () => {
    const posted = await postJob(h.url, {
      image: await png(),
      fields: { frames: '3', steps: '4', seed: '5' },
    });
    const id = posted.body.id as string;
    const before = await call(h.url, 'GET', `/v1/jobs/${id}/preview`);
    expect(before.status).toBe(404);
    expect(before.headers.get('content-type')).toMatch(/application\/json/);
    expect(before.body).toMatchObject({ code: 'no_preview' });
    expect((await call(h.url, 'GET', '/v1/jobs/nosuchjob/preview')).body).toMatchObject({
      code: 'not_found',
    });

    const events = readEvents(new URL(`v1/jobs/${id}/events`, h.url).href);
    // While it runs: the first view that names a preview step can be fetched.
    const running = waitFor(
      h.sidecar,
      id,
      (j: JobView) => j.state === 'running' && (j.preview_step ?? 0) > 0,
    );
    await h.sidecar.warm();
    const live = await running;
    const during = await fetch(new URL(`v1/jobs/${id}/preview`, h.url));
    expect(during.status).toBe(200);
    expect(during.headers.get('content-type')).toBe('image/webp');
    expect(Number(during.headers.get('x-preview-step'))).toBeGreaterThanOrEqual(live.preview_step!);
    const meta = await sharp(Buffer.from(await during.arrayBuffer()), { animated: true }).metadata();
    expect(meta).toMatchObject({ format: 'webp', pages: 3 });

    const seen = await events;
    const previews = seen.filter((e) => e.event === 'preview').map((e) => e.data.step as number);
    expect(previews.length).toBeGreaterThanOrEqual(2);
    expect(previews).toEqual([...previews].sort((a, b) => a - b));
    expect(previews.at(-1)).toBe(4);
    const firstPreview = seen.findIndex((e) => e.event === 'preview');
    const done = seen.findIndex((e) => e.event === 'job' && e.data.state === 'succeeded');
    expect(firstPreview).toBeGreaterThanOrEqual(0);
    expect(firstPreview).toBeLessThan(done);

    await waitFor(h.sidecar, id, ended);
    const after = await fetch(new URL(`v1/jobs/${id}/preview`, h.url));
    expect(after.status).toBe(200);
    expect(after.headers.get('x-preview-step')).toBe('4');
    expect((await call(h.url, 'GET', `/v1/jobs/${id}`)).body.preview_step).toBe(4);
  });

  it('applies the same access rules as the job itself', async () => {
    const posted = await postJob(h.url, { image: await png(), fields: { frames: '2', steps: '1' } });
    const id = posted.body.id as string;
    await waitFor(h.sidecar, id, ended);
    for (const caller of [
      { remoteAddress: '10.1.2.3', headers: {} },
      { remoteAddress: '10.1.2.3', headers: { authorization: 'Bearer wrong' } },
      { remoteAddress: '10.1.2.3', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
      { remoteAddress: '127.0.0.1', headers: {} },
    ]) {
      const job = await h.app.inject({ method: 'GET', url: `/v1/jobs/${id}`, ...caller });
      const preview = await h.app.inject({ method: 'GET', url: `/v1/jobs/${id}/preview`, ...caller });
      expect(preview.statusCode, JSON.stringify(caller)).toBe(job.statusCode);
    }
    const refused = await h.app.inject({
      method: 'GET',
      url: `/v1/jobs/${id}/preview`,
      remoteAddress: '10.1.2.3',
    });
    expect(refused.statusCode).toBe(401);
  });

  it('is deleted with the result', async () => {
    const posted = await postJob(h.url, { image: await png(), fields: { frames: '2', steps: '1' } });
    const id = posted.body.id as string;
    await waitFor(h.sidecar, id, ended);
    expect((await call(h.url, 'GET', `/v1/jobs/${id}/preview`)).status).toBe(200);
    expect((await call(h.url, 'DELETE', `/v1/jobs/${id}`)).status).toBe(200);
    expect((await call(h.url, 'GET', `/v1/jobs/${id}/preview`)).status).toBe(404);
  });
});

describe('PreviewStore', () => {
  it('keeps the newest step, survives a restart, and prunes previews of jobs that are gone', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-previews-'));
    const a = new PreviewStore(dir);
    a.put('job1', 2, Buffer.from('two'));
    a.put('job1', 1, Buffer.from('one')); // older: ignored
    a.put('job1', 3, Buffer.from('three'));
    a.put('job2', 1, Buffer.from('other'));
    expect(a.get('job1')).toMatchObject({ step: 3, data: Buffer.from('three') });
    expect(readdirSync(dir).sort()).toEqual(['job1.3.webp', 'job2.1.webp']);
    writeFileSync(path.join(dir, 'job3.1.webp.tmp'), 'cut short');

    const b = new PreviewStore(dir);
    expect(b.step('job1')).toBe(3);
    expect(b.get('job1')?.data.toString()).toBe('three');
    expect(b.get('nope')).toBeUndefined();
    expect(b.prune((id) => id === 'job1')).toBe(1);
    expect(readdirSync(dir)).toEqual(['job1.3.webp']);
  });
});
