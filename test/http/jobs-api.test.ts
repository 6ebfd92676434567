/** The job routes over real HTTP, on the tiny model with real SQLite and ffmpeg. */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/service/types.ts';
import { ffprobe } from '../helpers/ffprobe.ts';
import {
  ADMIN_TOKEN,
  call,
  ended,
  type Harness,
  png,
  pngHeaderOnly,
  postJob,
  startHarness,
  waitFor,
} from './harness.ts';

const SMALL = { frames: '2', steps: '1', seed: '7' };
/** The bots' token: it may name a user and a delivery target. */
const admin = { token: ADMIN_TOKEN };

/** Reads SSE `job` events until the job ends. */
async function readEvents(url: string): Promise<JobView[]> {
  const res = await fetch(url);
  expect(res.headers.get('content-type')).toMatch(/text\/event-stream/);
  const events: JobView[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
      const data = buffer
        .slice(0, cut)
        .split('\n')
        .find((l) => l.startsWith('data: '));
      buffer = buffer.slice(cut + 2);
      if (data) events.push(JSON.parse(data.slice(6)));
    }
  }
  return events;
}

describe('job routes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, { warm: false });
  });
  afterAll(async () => h?.close());

  it('answers 202 during warm-up, streams progress over SSE, then serves a playable MP4', async () => {
    expect((await call(h.url, 'GET', '/readyz')).status).toBe(503);
    expect((await call(h.url, 'GET', '/healthz')).status).toBe(200);
    const image = await png();
    const posted = await postJob(h.url, {
      image,
      fields: { ...SMALL, frames: '3', steps: '2', prompt: 'a red card' },
    });
    expect(posted.status).toBe(202);
    expect(posted.body).toEqual({ id: expect.any(String), position: 1 });
    const id = posted.body.id;

    const view = await call(h.url, 'GET', `/v1/jobs/${id}`);
    expect(view.body).toMatchObject({ id, user: 'http:127.0.0.1', state: 'queued', position: 1, seed: 7 });
    expect(view.body.options).toMatchObject({ frames: 3, steps: 2, prompt: 'a red card' });
    expect(view.body.progress).toEqual({ step: 0, steps: 0, chunk: 0, chunks: 0 });
    const early = await call(h.url, 'GET', `/v1/jobs/${id}/result`);
    expect(early.status).toBe(409);
    expect(early.body).toMatchObject({ state: 'queued' });

    const events = readEvents(new URL(`v1/jobs/${id}/events`, h.url).href);
    await h.sidecar.warm();
    expect((await call(h.url, 'GET', '/readyz')).body).toEqual({ ready: true, provider: 'cpu' });
    const seen = await events;
    expect(seen[0].state).toBe('queued');
    expect(seen.some((e) => e.state === 'running' && e.progress.step === 1 && e.progress.steps === 2)).toBe(
      true,
    );
    expect(seen.some((e) => e.state === 'running' && e.progress.chunks > 0)).toBe(true);
    expect(seen.at(-1)).toMatchObject({ state: 'succeeded', position: 0, eta_s: 0 });

    const res = await fetch(new URL(`v1/jobs/${id}/result`, h.url));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('video/mp4');
    const file = path.join(h.dataDir, 'out.mp4');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const probe = await ffprobe(file);
    expect(probe).toMatchObject({ codec: 'h264', pix_fmt: 'yuv420p', nb_frames: 3 });
    // Ranges let a <video> element seek.
    const part = await fetch(new URL(`v1/jobs/${id}/result`, h.url), { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);
    // The input picture is deleted when the job ends.
    expect(h.sidecar.journal.get(id)?.inputPath).toBeNull();
  });

  it('lists a user’s jobs and tracks delivery so nothing is posted twice', async () => {
    const image = await png(64, 64);
    const delivery = { channel: 'c1', thread: 't9' };
    const posted = await postJob(h.url, {
      image,
      fields: { ...SMALL, user: 'discord:42', delivery: JSON.stringify(delivery) },
      ...admin,
    });
    expect(posted.status).toBe(202);
    const id = posted.body.id;
    await waitFor(h.sidecar, id, ended);
    const listed = await call(h.url, 'GET', '/v1/jobs?user=discord:42', admin);
    expect(listed.body.jobs.map((j: JobView) => j.id)).toEqual([id]);
    expect(listed.body.jobs[0]).toMatchObject({ state: 'succeeded', delivery, delivered: false });
    const pending = await call(h.url, 'GET', '/v1/jobs?undelivered=1', admin);
    expect(pending.body.jobs.map((j: JobView) => j.id)).toContain(id);
    expect(await call(h.url, 'POST', `/v1/jobs/${id}/delivered`, admin)).toMatchObject({
      status: 200,
      body: { id, delivered: true },
    });
    const after = await call(h.url, 'GET', '/v1/jobs?undelivered=1', admin);
    expect(after.body.jobs.map((j: JobView) => j.id)).not.toContain(id);
    expect((await call(h.url, 'GET', `/v1/jobs/${id}`, admin)).body.delivered).toBe(true);
    expect((await call(h.url, 'GET', '/v1/jobs', admin)).status).toBe(400);
    expect((await call(h.url, 'POST', '/v1/jobs/nope/delivered', admin)).status).toBe(404);

    // DELETE on an ended job removes its stored result; only the owner (or an admin) may.
    expect((await call(h.url, 'DELETE', `/v1/jobs/${id}?user=discord:1`, admin)).status).toBe(403);
    expect((await call(h.url, 'DELETE', `/v1/jobs/${id}?user=discord:42`, admin)).status).toBe(200);
    expect((await call(h.url, 'GET', `/v1/jobs/${id}/result`, admin)).status).toBe(410);
  });

  it('cancels a waiting job (owner only) and a running one', async () => {
    await call(h.url, 'POST', '/v1/queue/pause', admin);
    const image = await png();
    const a = await postJob(h.url, {
      image,
      fields: { ...SMALL, frames: '4', steps: '8', user: 'web:a' },
      ...admin,
    });
    const b = await postJob(h.url, { image, fields: { ...SMALL, user: 'web:b' }, ...admin });
    expect(b.body.position).toBe(2);
    expect((await call(h.url, 'DELETE', `/v1/jobs/${b.body.id}?user=web:a`, admin)).status).toBe(403);
    const canceled = await call(h.url, 'DELETE', `/v1/jobs/${b.body.id}?user=web:b`, admin);
    expect(canceled.body).toMatchObject({ state: 'canceled', error: 'canceled while waiting' });
    expect((await call(h.url, 'GET', `/v1/jobs/${a.body.id}`, admin)).body.position).toBe(1);

    await call(h.url, 'POST', '/v1/queue/resume', admin);
    await waitFor(h.sidecar, a.body.id, (j) => j.state === 'running' && j.progress.step >= 1);
    const t0 = performance.now();
    const stopped = await call(h.url, 'DELETE', `/v1/jobs/${a.body.id}?user=web:a`, admin);
    expect(stopped.body).toMatchObject({ state: 'canceled', error: 'canceled while running' });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(stopped.body.progress.step).toBeLessThan(8);
    expect((await call(h.url, 'GET', `/v1/jobs/${a.body.id}/result`, admin)).body).toMatchObject({
      state: 'canceled',
    });
  });

  it('fails one job with a readable reason and goes on with the next; GIF output works', async () => {
    await call(h.url, 'POST', '/v1/queue/pause', admin);
    const image = await png();
    const doomed = await postJob(h.url, { image, fields: { ...SMALL, user: 'web:f' }, ...admin });
    const gif = await postJob(h.url, { image, fields: { ...SMALL, format: 'gif', user: 'web:g' }, ...admin });
    // The picture vanishes from disk before the job runs (a disk problem, an operator's rm…).
    rmSync(h.sidecar.journal.get(doomed.body.id)!.inputPath!);
    await call(h.url, 'POST', '/v1/queue/resume', admin);
    const failed = await waitFor(h.sidecar, doomed.body.id, ended);
    expect(failed).toMatchObject({ state: 'failed', error_code: 'input_missing' });
    expect(failed.error).toMatch(/picture was lost .* send it again/);
    expect((await waitFor(h.sidecar, gif.body.id, ended)).state).toBe('succeeded');
    const res = await fetch(new URL(`v1/jobs/${gif.body.id}/result`, h.url), {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.headers.get('content-type')).toBe('image/gif');
    expect(
      Buffer.from(await res.arrayBuffer())
        .subarray(0, 6)
        .toString('latin1'),
    ).toBe('GIF89a');
    const metrics = (await call(h.url, 'GET', '/metrics')).body as string;
    expect(metrics).toMatch(/stillmotion_job_failures_total\{reason="input_missing"\} 1/);
  });

  it('takes loop and smooth as form fields; the result has the frames they make', async () => {
    const posted = await postJob(h.url, {
      image: await png(),
      fields: { ...SMALL, frames: '3', loop: 'boomerang', smooth: '2x' },
    });
    expect(posted.status).toBe(202);
    const done = await waitFor(h.sidecar, posted.body.id, ended);
    expect(done).toMatchObject({ state: 'succeeded', options: { loop: 'boomerang', smooth: '2x' } });
    const res = await fetch(new URL(`v1/jobs/${posted.body.id}/result`, h.url), {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const file = path.join(h.dataDir, 'loop.mp4');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    // 3 frames → 4 as a boomerang → 8 at 14 fps (the wrap interpolated).
    expect(await ffprobe(file)).toMatchObject({ nb_frames: 8, fps: 14 });
  });

  it('refuses bad uploads and options with JSON, fast', async () => {
    const good = await png();
    const cases: { o: Parameters<typeof postJob>[1]; status: number; code?: string; option?: string }[] = [
      { o: { image: Buffer.alloc(21_000_000, 1), fields: SMALL }, status: 413, code: 'file_too_large' },
      { o: { image: pngHeaderOnly(10_000, 5_000), fields: SMALL }, status: 413, code: 'image_too_large' },
      { o: { image: good.subarray(0, 60), fields: SMALL }, status: 422, code: 'corrupt_image' },
      { o: { image: Buffer.from('just some text, not a picture'), type: 'text/plain' }, status: 415 },
      {
        o: {
          image: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>'),
          type: 'image/svg+xml',
        },
        status: 415,
      },
      { o: { image: good, fields: { frames: '99' } }, status: 400, code: 'bad_option', option: 'frames' },
      { o: { image: good, fields: { motion: 'wild' } }, status: 400, option: 'motion' },
      { o: { image: good, fields: { loop: 'spin' } }, status: 400, code: 'bad_option', option: 'loop' },
      { o: { image: good, fields: { smooth: '8x' } }, status: 400, code: 'bad_option', option: 'smooth' },
      { o: { image: good, fields: { fps: '30', smooth: '4x' } }, status: 400, option: 'smooth' },
      { o: { image: good, fields: { steer: '1.5', prompt: 'a cat' } }, status: 400, option: 'steer' },
      { o: { image: good, fields: { steer: '0.5' } }, status: 400, code: 'bad_option', option: 'steer' },
      { o: { image: good, fields: { bogus: '1' } }, status: 400, code: 'unknown_option', option: 'bogus' },
      { o: { fields: SMALL }, status: 400, code: 'missing_image', option: 'image' },
      { o: { image: good, fields: { delivery: '[1' }, ...admin }, status: 400, option: 'delivery' },
    ];
    for (const c of cases) {
      const t0 = performance.now();
      const res = await postJob(h.url, c.o);
      // Well under a second on an idle machine; the budget leaves room for a busy shared CPU
      // (and, for the oversized one, for the client sending 20 MB before it is cut off).
      const budget = c.code === 'file_too_large' ? 3000 : 1500;
      expect(performance.now() - t0, `${c.status} ${c.code ?? c.option}`).toBeLessThan(budget);
      expect(res.status, JSON.stringify(res.body)).toBe(c.status);
      expect(res.body.error).toEqual(expect.any(String));
      if (c.code) expect(res.body.code).toBe(c.code);
      if (c.option) expect(res.body.option).toBe(c.option);
    }
    const range = await postJob(h.url, { image: good, fields: { steps: '0' } });
    expect(range.body.error).toMatch(/1–50/);
    const notMultipart = await call(h.url, 'POST', '/v1/jobs', { json: { image: 'x' } });
    expect(notMultipart.status).toBe(415);
  });

  it('needs the token for job routes from another host, not on loopback', async () => {
    const remote = await h.app.inject({
      method: 'GET',
      url: '/v1/jobs?user=web:a',
      remoteAddress: '10.1.2.3',
    });
    expect(remote.statusCode).toBe(401);
    const withToken = await h.app.inject({
      method: 'GET',
      url: '/v1/jobs?user=web:a',
      remoteAddress: '10.1.2.3',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(withToken.statusCode).toBe(200);
    const local = await h.app.inject({ method: 'GET', url: '/v1/jobs', remoteAddress: '127.0.0.1' });
    expect(local.statusCode).toBe(200);
  });

  it('exports Prometheus metrics: queue depth, durations, failures, provider', async () => {
    const res = await call(h.url, 'GET', '/metrics');
    expect(res.status).toBe(200);
    const text = res.body as string;
    expect(text).toMatch(/stillmotion_queue_depth\{state="queued"\} 0/);
    expect(text).toMatch(/stillmotion_queue_depth\{state="running"\} 0/);
    expect(text).toMatch(/stillmotion_job_duration_seconds_count\{outcome="succeeded"\} [1-9]/);
    expect(text).toMatch(/stillmotion_job_duration_seconds_count\{outcome="canceled"\} 1/);
    expect(text).toMatch(/stillmotion_step_duration_seconds_count [1-9]/);
    expect(text).toMatch(/# TYPE stillmotion_job_failures_total counter/);
    expect(text).toMatch(/stillmotion_provider_info\{provider="cpu",model="svd-tiny \(random weights\)"\} 1/);
    expect(text).toMatch(/stillmotion_jobs_refused_total\{code="file_too_large"\} 1/);
  });
});
