/** The JobService over HTTP (ENGINE_URL) against a real sidecar. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpJobService } from '../../src/service/http-client.ts';
import { type JobView, ServiceError } from '../../src/service/types.ts';
import { ADMIN_TOKEN, type Harness, png, startHarness } from '../http/harness.ts';

describe('HttpJobService', () => {
  let h: Harness;
  let client: HttpJobService;
  beforeAll(async () => {
    h = await startHarness();
    client = new HttpJobService({ baseUrl: h.url, token: ADMIN_TOKEN });
  });
  afterAll(async () => h?.close());

  it('submits, follows progress, fetches the video and tracks delivery', async () => {
    expect(await client.model()).toMatchObject({
      randomWeights: true,
      frames: 14,
      // The option defaults of the model's scheduler travel with it, for bots that run apart.
      steps: 25,
      guidance: [1, 3],
      maxSteps: 50,
      provider: 'cpu',
      ready: true,
    });
    const image = await png();
    const { id, position } = await client.submit({
      image,
      options: { frames: 2, steps: 2, seed: 9, guidance: [1, 2] },
      user: 'slack:T1:U1',
      delivery: { channel: 'C1', thread_ts: '1.2' },
    });
    expect(position).toBeGreaterThanOrEqual(1);
    const seen: JobView[] = [];
    const last = await new Promise<JobView>((resolve) => {
      const off = client.subscribe(id, (job) => {
        seen.push(job);
        if (job.state === 'succeeded' || job.state === 'failed') {
          off();
          resolve(job);
        }
      });
    });
    expect(last).toMatchObject({ state: 'succeeded', seed: 9, user: 'slack:T1:U1' });
    expect(last.options.guidance).toEqual([1, 2]);
    expect(seen.some((j) => j.state === 'running' && j.progress.step >= 1)).toBe(true);
    const video = await client.result(id);
    expect(video.subarray(4, 8).toString('latin1')).toBe('ftyp');
    expect((await client.list('slack:T1:U1')).map((j) => j.id)).toEqual([id]);
    expect((await client.undelivered()).map((j) => j.id)).toContain(id);
    await client.markDelivered(id);
    expect((await client.undelivered()).map((j) => j.id)).not.toContain(id);
    await client.deleteResult(id, { user: 'slack:T1:U1', admin: false });
    await expect(client.result(id)).rejects.toMatchObject({ status: 410 });
  });

  it('maps refusals to ServiceErrors and runs admin actions with the token', async () => {
    const image = await png();
    const bad = await client.submit({ image, options: { fps: 99 }, user: 'web:x' }).catch((e) => e);
    expect(bad).toBeInstanceOf(ServiceError);
    expect(bad).toMatchObject({ status: 400, option: 'fps' });
    expect(await client.pause()).toEqual({ paused: true });
    const { id } = await client.submit({ image, options: { frames: 2, steps: 1 }, user: 'web:x' });
    await expect(client.cancel(id, { user: 'web:y', admin: false })).rejects.toMatchObject({ status: 403 });
    expect((await client.queue()).queued.map((j) => j.id)).toEqual([id]);
    expect(await client.setLimits({ per_user: 4 })).toEqual({ per_user: 4, max_queued: 100 });
    expect(await client.clear()).toEqual({ canceled: 1 });
    expect((await client.get(id))!.state).toBe('canceled');
    expect(await client.resume()).toEqual({ paused: false });
    expect(await client.get('missing')).toBeUndefined();
    const noAdmin = new HttpJobService({ baseUrl: h.url });
    await expect(noAdmin.queue()).rejects.toMatchObject({ status: 401 });
    const down = new HttpJobService({ baseUrl: 'http://127.0.0.1:9/' });
    await expect(down.get('x')).rejects.toMatchObject({ status: 503, code: 'engine_unreachable' });
  });
});

describe('HttpJobService, when the job disappears while watched', () => {
  it('ends the watcher with a final lost view when the stream comes back 404', async () => {
    const { createServer } = await import('node:http');
    const view = { id: 'j1', user: 'web:x', state: 'queued', position: 1, options: { steps: 1 } };
    let calls = 0;
    // The stream breaks after one event (a sidecar restart); by the reconnect, the job is gone.
    const server = createServer((_req, res) => {
      calls++;
      if (calls === 1) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(`event: job\ndata: ${JSON.stringify(view)}\n\n`);
        return;
      }
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"error":"no job j1","code":"not_found"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const client = new HttpJobService({ baseUrl: `http://127.0.0.1:${port}`, token: ADMIN_TOKEN });
      const seen: JobView[] = [];
      await new Promise<void>((resolve) => {
        client.subscribe('j1', (job) => {
          seen.push(job);
          if (job.state === 'failed') resolve();
        });
      });
      expect(seen.map((v) => v.state)).toEqual(['queued', 'failed']);
      expect(seen[1]).toMatchObject({ id: 'j1', error_code: 'lost', position: 0 });
      expect(seen[1]!.error).toMatch(/the job was lost/);
    } finally {
      server.close();
    }
  });
});
