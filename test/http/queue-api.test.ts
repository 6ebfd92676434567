/** Queue behaviour through the HTTP API: admin routes, caps, fairness, concurrency, clear. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { JobView } from '../../src/service/types.ts';
import { LIMIT_EDGES } from '../chat/limit-edges.ts';
import { ADMIN_TOKEN, call, ended, type Harness, png, postJob, startHarness, waitFor } from './harness.ts';

const SMALL = { frames: '2', steps: '1', seed: '1' };
const admin = { token: ADMIN_TOKEN };

/** Records the order in which jobs start and the most running at once. */
function watchStarts(h: Harness, ids: string[]) {
  const order: string[] = [];
  const running = new Set<string>();
  let peak = 0;
  const offs = ids.map((id) =>
    h.sidecar.service.subscribe(id, (job: JobView) => {
      if (job.state === 'running') {
        if (!order.includes(id)) order.push(id);
        running.add(id);
        peak = Math.max(peak, running.size);
      } else if (ended(job)) running.delete(id);
    }),
  );
  return {
    order,
    peak: () => peak,
    stop: () => {
      for (const off of offs) off();
    },
  };
}

describe('admin routes', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h?.close());
  afterEach(async () => {
    await call(h.url, 'PUT', '/v1/queue/limits', { ...admin, json: { per_user: 3, max_queued: 100 } });
    await call(h.url, 'POST', '/v1/queue/resume', admin);
  });

  it('answer 401 without the Bearer token, and work with it', async () => {
    const routes: [string, string, unknown?][] = [
      ['GET', '/v1/queue'],
      ['POST', '/v1/queue/pause'],
      ['POST', '/v1/queue/resume'],
      ['POST', '/v1/queue/clear'],
      ['PUT', '/v1/queue/limits', { per_user: 2 }],
    ];
    for (const [method, route, json] of routes) {
      const none = await call(h.url, method, route, { json });
      expect(none.status, `${method} ${route}`).toBe(401);
      expect(none.body.error).toMatch(/Bearer/);
      expect((await call(h.url, method, route, { json, token: 'wrong' })).status).toBe(401);
      expect((await call(h.url, method, route, { json, ...admin })).status).toBe(200);
    }
    expect((await call(h.url, 'POST', '/v1/queue/pause', admin)).body).toEqual({ paused: true });
    expect((await call(h.url, 'GET', '/v1/queue', admin)).body).toMatchObject({
      paused: true,
      queued: [],
      running: [],
    });
    expect((await call(h.url, 'POST', '/v1/queue/resume', admin)).body).toEqual({ paused: false });
    const limits = await call(h.url, 'PUT', '/v1/queue/limits', {
      ...admin,
      json: { per_user: 5, max_queued: 7 },
    });
    expect(limits.body).toEqual({ per_user: 5, max_queued: 7 });
    const bad = await call(h.url, 'PUT', '/v1/queue/limits', { ...admin, json: { per_user: 0 } });
    expect(bad).toMatchObject({ status: 400, body: { option: 'per_user' } });
  });

  it('accepts and refuses the same per-user limits as the chat admins (1–1000)', async () => {
    const before = (await h.sidecar.service.queue()).limits;
    try {
      for (const per_user of LIMIT_EDGES.refused) {
        const bad = await call(h.url, 'PUT', '/v1/queue/limits', { ...admin, json: { per_user } });
        expect(bad).toMatchObject({ status: 400, body: { code: 'bad_limit', option: 'per_user' } });
        expect(bad.body.error).toContain('per_user 1–1000');
      }
      for (const per_user of LIMIT_EDGES.accepted) {
        const ok = await call(h.url, 'PUT', '/v1/queue/limits', { ...admin, json: { per_user } });
        expect(ok).toMatchObject({ status: 200, body: { per_user } });
      }
    } finally {
      await h.sidecar.service.setLimits(before);
    }
  });

  it('refuses over the per-user cap (queued + running) and the global cap with 429 naming the cap', async () => {
    await call(h.url, 'PUT', '/v1/queue/limits', { ...admin, json: { per_user: 2, max_queued: 3 } });
    await call(h.url, 'POST', '/v1/queue/pause', admin);
    const image = await png();
    const post = (user: string) => postJob(h.url, { image, fields: { ...SMALL, user }, ...admin });
    expect((await post('web:a')).status).toBe(202);
    expect((await post('web:a')).status).toBe(202);
    const third = await post('web:a');
    expect(third.status).toBe(429);
    expect(third.body).toMatchObject({
      code: 'user_limit',
      error: expect.stringMatching(/limit 2 per user/),
    });
    expect((await post('web:b')).status).toBe(202);
    const full = await post('web:c');
    expect(full.status).toBe(429);
    expect(full.body).toMatchObject({ code: 'queue_full', error: expect.stringMatching(/queue is full/) });

    const queue = await call(h.url, 'GET', '/v1/queue', admin);
    expect(queue.body.queued.map((j: JobView) => [j.user, j.position])).toEqual([
      ['web:a', 1],
      ['web:b', 2],
      ['web:a', 3],
    ]);
    const cleared = await call(h.url, 'POST', '/v1/queue/clear', admin);
    expect(cleared.body).toEqual({ canceled: 3 });
    for (const j of queue.body.queued) {
      expect((await call(h.url, 'GET', `/v1/jobs/${j.id}`, admin)).body.state).toBe('canceled');
    }
    // Paused: still accepted, still waiting.
    const waiting = await post('web:c');
    expect(waiting.status).toBe(202);
    await new Promise((r) => setTimeout(r, 300));
    expect((await call(h.url, 'GET', `/v1/jobs/${waiting.body.id}`, admin)).body.state).toBe('queued');
    await call(h.url, 'POST', '/v1/queue/resume', admin);
    expect((await waitFor(h.sidecar, waiting.body.id, ended)).state).toBe('succeeded');
  });

  it('starts jobs round-robin across users; pause lets the running job finish', async () => {
    const image = await png();
    // One long job runs; pause; then the rest queue up behind it.
    const first = await postJob(h.url, { image, fields: { ...SMALL, steps: '4', user: 'web:z' }, ...admin });
    await waitFor(h.sidecar, first.body.id, (j) => j.state === 'running');
    await call(h.url, 'POST', '/v1/queue/pause', admin);
    const ids: Record<string, string> = {};
    for (const name of ['a1', 'a2', 'a3', 'b1', 'c1']) {
      const res = await postJob(h.url, { image, fields: { ...SMALL, user: `web:${name[0]}` }, ...admin });
      expect(res.status).toBe(202);
      ids[name] = res.body.id;
    }
    expect((await waitFor(h.sidecar, first.body.id, ended)).state).toBe('succeeded');
    await new Promise((r) => setTimeout(r, 200));
    const a1 = (await call(h.url, 'GET', `/v1/jobs/${ids.a1}`, admin)).body;
    expect(a1).toMatchObject({ state: 'queued', position: 1 });
    const c1 = (await call(h.url, 'GET', `/v1/jobs/${ids.c1}`, admin)).body;
    expect(c1.position).toBe(3);
    // ETAs come from the step times measured so far, and grow with the place in the queue.
    expect(a1.eta_s).toBeGreaterThan(0);
    expect(c1.eta_s).toBeGreaterThan(a1.eta_s);
    const watch = watchStarts(h, Object.values(ids));
    await call(h.url, 'POST', '/v1/queue/resume', admin);
    for (const id of Object.values(ids)) await waitFor(h.sidecar, id, ended);
    watch.stop();
    const name = Object.fromEntries(Object.entries(ids).map(([k, v]) => [v, k]));
    expect(watch.order.map((id) => name[id])).toEqual(['a1', 'b1', 'c1', 'a2', 'a3']);
    expect(watch.peak()).toBe(1);
  });
});

describe('concurrency', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ concurrency: 2 });
  });
  afterAll(async () => h?.close());

  it('never runs more jobs at once than configured', async () => {
    const image = await png();
    await call(h.url, 'POST', '/v1/queue/pause', admin);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await postJob(h.url, { image, fields: { ...SMALL, user: `web:u${i % 3}` }, ...admin });
      ids.push(res.body.id);
    }
    const watch = watchStarts(h, ids);
    await call(h.url, 'POST', '/v1/queue/resume', admin);
    const done = await Promise.all(ids.map((id) => waitFor(h.sidecar, id, ended)));
    watch.stop();
    expect(done.every((j) => j.state === 'succeeded')).toBe(true);
    expect(watch.peak()).toBe(2);
  });
});
