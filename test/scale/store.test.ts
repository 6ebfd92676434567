/**
 * The shared job state's atomic scripts against a real Redis: caps, round-robin rounds, the try
 * limit after dead workers, fencing (exactly one result), putting a job back, cancel.
 */
import { loadModelInfo, resolveOptions } from '@stillmotion/engine';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScaleStore } from '../../src/scale/store.ts';
import { RedisServer } from './redis-server.ts';

const server = new RedisServer();
let redis: Redis;
let store: ScaleStore;
const options = resolveOptions({ frames: 2, steps: 1 }, loadModelInfo());
const image = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 255]);
const limits = { per_user: 3, max_queued: 100 };
let n = 0;

async function admit(user: string, extra: Partial<Parameters<ScaleStore['admit']>[0]> = {}) {
  const id = `j${++n}`;
  const out = await store.admit({
    id,
    user,
    now: Date.now(),
    options,
    image,
    defaults: limits,
    listTtlMs: 60_000,
    ...extra,
  });
  return { id, out };
}

async function queuedUsers(): Promise<string[]> {
  const ids = await redis.zrange(store.key('queued'), 0, -1);
  return (await store.jobs(ids)).map((j) => j!.user);
}

beforeAll(async () => {
  await server.start();
  redis = new Redis(server.url);
  store = new ScaleStore(redis, 't');
});

afterAll(async () => {
  redis.disconnect();
  await server.destroy();
});

describe('shared job state (Redis scripts)', () => {
  it('orders waiting jobs round-robin across users, whatever order they arrived in', async () => {
    for (let i = 0; i < 3; i++) await admit('web:a');
    for (let i = 0; i < 2; i++) await admit('web:b');
    await admit('web:c');
    expect(await queuedUsers()).toEqual(['web:a', 'web:b', 'web:c', 'web:a', 'web:b', 'web:a']);
    // The binary picture is stored byte for byte, outside any job payload.
    expect(await redis.getBuffer(store.key('input', 'j1'))).toEqual(image);
  });

  it('refuses past the per-user cap and the global cap, naming which', async () => {
    const over = await admit('web:a');
    expect(over.out).toEqual({ kind: 'user_limit', count: 3, limit: 3 });
    await redis.hset(store.key('settings'), 'max_queued', '6');
    const full = await admit('web:d');
    expect(full.out).toEqual({ kind: 'queue_full', count: 6, limit: 6 });
    // Jobs accepted before a restart may bypass the caps.
    expect((await admit('web:d', { bypassCaps: true })).out.kind).toBe('ok');
    await redis.hdel(store.key('settings'), 'max_queued');
  });

  it('fails a job after its last try when workers keep dying, with a reason', async () => {
    const first = await store.claim('j1', 'w1', 2, 60_000);
    expect(first).toMatchObject({ kind: 'ok', attempt: 1 });
    expect(first.kind === 'ok' && first.image).toEqual(image);
    // w1 died; BullMQ's stalled check hands the job to w2: a second try.
    expect(await store.claim('j1', 'w2', 2, 60_000)).toMatchObject({ kind: 'ok', attempt: 2 });
    // w1 comes back to life late: its writes are fenced off, and it is told why.
    expect(await store.progress('j1', 1, { step: 1, steps: 1, chunk: 0, chunks: 0 }, false)).toEqual({
      kind: 'taken',
      attempt: 2,
    });
    expect(await store.complete('j1', 1, Buffer.from('late'), 60_000, 1)).toEqual({
      kind: 'taken',
      attempt: 2,
    });
    // w2 died too: the third pickup fails it.
    expect(await store.claim('j1', 'w3', 2, 60_000)).toEqual({ kind: 'exhausted', tries: 2 });
    const job = await store.job('j1');
    expect(job).toMatchObject({ state: 'failed', errorCode: 'interrupted', ends: 1 });
    expect(job?.error).toMatch(/worker stopped while running this job \(2 times\)/);
    expect(await redis.exists(store.key('input', 'j1'))).toBe(0);
    expect(await redis.sismember(store.key('active', 'web:a'), 'j1')).toBe(0);
  });

  it('completes a job exactly once and keeps its result for the TTL', async () => {
    const claim = await store.claim('j2', 'w1', 2, 60_000);
    expect(claim.kind).toBe('ok');
    expect(await store.complete('j2', 1, Buffer.from('video'), 60_000, 5)).toBeUndefined();
    expect(await store.complete('j2', 1, Buffer.from('again'), 60_000, 5)).toEqual({
      kind: 'ended',
      state: 'succeeded',
    });
    expect(await store.result('j2')).toEqual(Buffer.from('video'));
    expect(await redis.pttl(store.key('result', 'j2'))).toBeGreaterThan(50_000);
    expect(await store.job('j2')).toMatchObject({ state: 'succeeded', ends: 1, resultBytes: 5 });
    // A duplicate delivery of the BullMQ job is not run again.
    expect(await store.claim('j2', 'w2', 2, 60_000)).toEqual({ kind: 'ended', state: 'succeeded' });
  });

  it('puts a job back without using its try, first in line', async () => {
    const before = await redis.zrange(store.key('queued'), 0, -1);
    const id = before[1];
    expect(await store.claim(id, 'w1', 2, 60_000)).toMatchObject({ kind: 'ok', attempt: 1 });
    expect(await store.release(id, 2)).toBeUndefined();
    expect(await store.release(id, 1)).toBe(1);
    // Waiting: j4 j6 j9 (round 0), j5 (1), j3 (2); the current round is 1 (j2 started). j6 goes
    // back to the front of round 1: behind the round-0 stragglers, before everyone else.
    expect(before).toEqual(['j4', 'j6', 'j9', 'j5', 'j3']);
    expect(await redis.zrange(store.key('queued'), 0, -1)).toEqual(['j4', 'j9', 'j6', 'j5', 'j3']);
    expect(await store.job(id)).toMatchObject({ state: 'queued', attempts: 0, round: 1 });
  });

  it('cancels a waiting job at once and flags a running one for its worker', async () => {
    const ids = await redis.zrange(store.key('queued'), 0, -1);
    expect(await store.cancel(ids[0], 'canceled while waiting', 60_000)).toBe('queued');
    expect(await store.job(ids[0])).toMatchObject({ state: 'canceled', error: 'canceled while waiting' });
    expect(await store.claim(ids[1], 'w1', 2, 60_000)).toMatchObject({ kind: 'ok' });
    const sub = new Redis(server.url);
    const heard = new Promise<string>((resolve) => sub.on('message', (_c, m) => resolve(m)));
    await sub.subscribe(store.cancelChannel);
    expect(await store.cancel(ids[1], 'x', 60_000)).toBe('running');
    expect(await heard).toBe(ids[1]);
    expect(await store.progress(ids[1], 1, { step: 1, steps: 1, chunk: 0, chunks: 0 }, false)).toBe('cancel');
    sub.disconnect();
    expect(await store.cancel('nope', 'x', 60_000)).toBe('unknown');
  });

  it('tells a worker its job record is gone when Redis lost it, and frees the place it held', async () => {
    const { id } = await admit('web:gone');
    expect(await store.claim(id, 'w1', 2, 60_000)).toMatchObject({ kind: 'ok', attempt: 1 });
    // The record vanishes (a flush of that key, a partial restore) but the user's set keeps the id.
    await redis.del(store.key('job', id));
    expect(await store.progress(id, 1, { step: 1, steps: 1, chunk: 0, chunks: 0 }, false)).toEqual({
      kind: 'gone',
    });
    expect(await store.complete(id, 1, Buffer.from('v'), 60_000, 1)).toEqual({ kind: 'gone' });
    expect(await store.end(id, 1, 'failed', 'x', 'x', 60_000)).toEqual({ kind: 'gone' });
    await redis.hset(store.key('settings'), 'per_user', '1');
    try {
      // Without pruning, the lost id would count against the cap of 1 for ever.
      expect((await admit('web:gone')).out.kind).toBe('ok');
      expect(await redis.sismember(store.key('active', 'web:gone'), id)).toBe(0);
    } finally {
      await redis.hdel(store.key('settings'), 'per_user');
    }
  });

  it('fails a damaged record with a reason and still lists the others', async () => {
    const fallback = { ...options, seed: 0 };
    const damagedSeen: string[] = [];
    const careful = new ScaleStore(redis, 't', {
      fallbackOptions: fallback,
      onDamaged: (id) => damagedSeen.push(id),
    });
    const bad = await admit('web:dmg');
    const good = await admit('web:dmg2');
    await redis.hset(store.key('job', bad.id), 'options', '{not json', 'delivery', '[1,');
    const [a, b] = await careful.jobs([bad.id, good.id]);
    expect(a).toMatchObject({ id: bad.id, state: 'failed', errorCode: 'bad_record', options: fallback });
    expect(a!.error).toMatch(/record was damaged/);
    expect(b).toMatchObject({ id: good.id, state: 'queued' });
    expect(damagedSeen).toEqual([bad.id]);
    // Failed once: reading it again reports nothing new, and its place is free.
    await careful.jobs([bad.id]);
    expect(damagedSeen).toEqual([bad.id]);
    expect(await redis.zscore(store.key('queued'), bad.id)).toBeNull();
    expect(await redis.sismember(store.key('active', 'web:dmg'), bad.id)).toBe(0);
    // Without stand-in options the record is skipped rather than thrown on.
    await redis.hset(store.key('job', good.id), 'options', 'garbage');
    expect(await store.jobs([good.id])).toEqual([undefined]);
  });

  it('refuses admission before pictures and results pass the memory budget', async () => {
    await redis.flushall();
    const big = Buffer.alloc(400_000, 1);
    const budget = { memoryBudget: 1_000_000, resultReserve: 100_000 };
    const first = await admit('web:m1', { image: big, ...budget });
    expect(first.out.kind).toBe('ok');
    expect(await store.memory()).toEqual({ inputs: 400_000, results: 0 });
    // 400 kB held + 400 kB new + 2 open jobs × 100 kB reserve = 1 MB: still fits; a third does not.
    const second = await admit('web:m2', { image: big, ...budget });
    expect(second.out.kind).toBe('ok');
    const refused = await admit('web:m3', { image: big, ...budget });
    expect(refused.out).toEqual({ kind: 'memory_budget', count: 800_000, limit: 1_000_000 });
    // A result is counted while kept; the picture it came from is not any more.
    expect(await store.claim(first.id, 'w1', 2, 60_000)).toMatchObject({ kind: 'ok' });
    expect(await store.complete(first.id, 1, Buffer.alloc(50_000), 200, 1)).toBeUndefined();
    expect(await store.memory()).toEqual({ inputs: 400_000, results: 50_000 });
    // Expired results are released at the next admission.
    await new Promise((r) => setTimeout(r, 300));
    expect((await admit('web:m3', { image: Buffer.alloc(10), ...budget })).out.kind).toBe('ok');
    expect(await store.memory()).toEqual({ inputs: 400_010, results: 0 });
    await store.deleteResult(first.id);
    // Ending a job releases its picture; no budget means no refusal.
    expect(await store.cancel(second.id, 'x', 60_000)).toBe('queued');
    expect(await store.memory()).toEqual({ inputs: 10, results: 0 });
    expect((await admit('web:m4', { image: big })).out.kind).toBe('ok');
  });

  it('deletes a job’s live preview together with its result', async () => {
    await redis.flushall();
    const job = await admit('web:p1');
    const other = await admit('web:p2');
    expect(job.out.kind).toBe('ok');
    await store.savePreview(job.id, 3, Buffer.from('webp-3'), 60_000);
    await store.savePreview(other.id, 2, Buffer.from('webp-2'), 60_000);
    expect(await store.preview(job.id)).toEqual(Buffer.from('webp-3'));
    await store.deleteResult(job.id);
    expect(await store.preview(job.id)).toBeNull();
    expect(await store.preview(other.id)).toEqual(Buffer.from('webp-2'));
  });
});
