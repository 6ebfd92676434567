/** Journal recovery and disk cleanup, on a real SQLite journal under a temp DATA_DIR. */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { inspectImage, loadModelInfo, resolveOptions } from '@stillmotion/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { LocalJobService } from '../../src/service/job-service.ts';
import { Journal } from '../../src/service/journal.ts';
import { type BackendJob, LocalBackend } from '../../src/service/local-backend.ts';

const model = loadModelInfo();
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'stillmotion-journal-'));
  dirs.push(d);
  return d;
}

function service(journal: Journal, extra: { resultTtlMs?: number; dataDirMaxBytes?: number } = {}) {
  const backend = new LocalBackend<BackendJob>({ concurrency: 1, limits: { per_user: 3, max_queued: 100 } });
  const svc = new LocalJobService({
    journal,
    backend,
    model,
    inspectImage,
    logger: createLogger('silent'),
    ...extra,
  });
  return { svc, backend };
}

const options = resolveOptions({ frames: 2, steps: 1, seed: 5 }, model);
const image = new Uint8Array([1, 2, 3]);

describe('journal recovery', () => {
  it('requeues queued jobs in order, retries a job that was running once, and fails it after a second crash', async () => {
    const dir = tempDir();
    const j1 = new Journal(dir);
    j1.insert({ id: 'q1', user: 'web:a', options, image, imageExt: 'png' });
    j1.insert({ id: 'q2', user: 'web:b', options, image, imageExt: 'png', delivery: { channel: 'x' } });
    j1.insert({ id: 'r1', user: 'web:c', options, image, imageExt: 'png' });
    j1.insert({ id: 'r2', user: 'web:d', options, image, imageExt: 'png' });
    j1.markRunning('r1');
    j1.markRunning('r2');
    j1.requeue('r2', false);
    j1.markRunning('r2');
    j1.close(); // as after kill -9: nothing else was written

    const j2 = new Journal(dir);
    const { svc, backend } = service(j2);
    expect(await svc.open()).toEqual({ requeued: 2, retried: 1, failed: 1 });
    expect((await backend.snapshot()).queued).toEqual(['r1', 'q1', 'q2']);
    const failed = await svc.get('r2');
    expect(failed).toMatchObject({ state: 'failed', error_code: 'interrupted' });
    expect(failed!.error).toMatch(/stopped twice/);
    expect(j2.get('r2')!.inputPath).toBeNull();
    expect(j2.get('r1')).toMatchObject({ state: 'queued', attempts: 1 });
    expect((await svc.get('q2'))!.delivery).toEqual({ channel: 'x' });
    await svc.shutdown();
  });

  it('reads a job journaled before loop and smooth existed as loop off, smooth off', async () => {
    const dir = tempDir();
    const j1 = new Journal(dir);
    const { loop: _loop, smooth: _smooth, ...older } = options;
    j1.insert({ id: 'old', user: 'web:a', options: older as typeof options, image, imageExt: 'png' });
    j1.close();
    const j2 = new Journal(dir);
    expect(j2.get('old')!.options).toMatchObject({ frames: 2, loop: 'off', smooth: 'off' });
    j2.close();
  });

  it('keeps the paused setting across restarts', async () => {
    const dir = tempDir();
    const a = service(new Journal(dir));
    await a.svc.open();
    await a.svc.pause();
    await a.svc.shutdown();
    const b = service(new Journal(dir));
    await b.svc.open();
    expect((await b.svc.queue()).paused).toBe(true);
    await b.svc.shutdown();
  });
});

describe('cleanup', () => {
  it('deletes results after the TTL, evicts the oldest results over the size cap, and removes orphan files', async () => {
    const dir = tempDir();
    const journal = new Journal(dir);
    const now = Date.now();
    const result = (id: string, bytes: number, finishedAt: number) => {
      journal.insert({ id, user: 'web:a', options, image, imageExt: 'png', now: finishedAt - 10 });
      const file = path.join(journal.resultsDir, `${id}.mp4`);
      writeFileSync(file, Buffer.alloc(bytes));
      journal.markRunning(id, finishedAt - 5);
      journal.markSucceeded(id, file, bytes, finishedAt);
      return file;
    };
    const old = result('old', 100, now - 2 * 3_600_000);
    const mid = result('mid', 600, now - 60_000);
    const fresh = result('fresh', 600, now - 1000);
    journal.markDelivered('fresh');
    writeFileSync(path.join(journal.inputsDir, 'stray.png'), 'x');
    const { svc } = service(journal, { resultTtlMs: 3_600_000, dataDirMaxBytes: 1000 });
    svc.runCleanup(now);
    expect(existsSync(old)).toBe(false);
    expect(journal.get('old')).toBeUndefined();
    // Over the cap: the delivered result goes first, the undelivered one stays.
    expect(existsSync(fresh)).toBe(false);
    expect(journal.get('fresh')!.resultPath).toBeNull();
    expect(existsSync(mid)).toBe(true);
    expect(readdirSync(journal.inputsDir)).toEqual([]);
    await expect(svc.result('fresh')).rejects.toMatchObject({ status: 410 });
    expect((await svc.result('mid')).length).toBe(600);
    await svc.shutdown();
  });
});

describe('a damaged journal', () => {
  it('logs and skips a damaged row, fails its job with a reason, and goes on with the rest', async () => {
    const dir = tempDir();
    const j1 = new Journal(dir);
    const delivery = { channel: 'c' };
    j1.insert({ id: 'ok1', user: 'web:a', options, image, imageExt: 'png' });
    const bad = j1.insert({ id: 'bad-options', user: 'web:b', options, image, imageExt: 'png', delivery });
    j1.insert({ id: 'bad-delivery', user: 'web:c', options, image, imageExt: 'png', delivery });
    j1.insert({ id: 'done', user: 'web:d', options, image, imageExt: 'png', delivery });
    j1.markSucceeded('done', path.join(dir, 'results', 'done.mp4'), 10);
    j1.clearInput('done');
    j1.close();
    const db = new DatabaseSync(path.join(dir, 'journal.sqlite'));
    db.prepare("UPDATE jobs SET options = '{\"frames\": 2, trunc' WHERE id = 'bad-options'").run();
    db.prepare("UPDATE jobs SET delivery = '[1, 2' WHERE id = 'bad-delivery'").run();
    db.prepare("INSERT INTO settings (key, value) VALUES ('paused', 'not json')").run();
    db.close();

    const damaged: string[] = [];
    const j2 = new Journal(dir, { onDamaged: (id) => damaged.push(id) });
    const { svc, backend } = service(j2);
    expect(await svc.open()).toEqual({ requeued: 1, retried: 0, failed: 0 });
    expect((await backend.snapshot()).queued).toEqual(['ok1']);
    const failed = await svc.get('bad-options');
    expect(failed).toMatchObject({ state: 'failed', error_code: 'corrupt_record', delivery });
    expect(failed?.error).toMatch(/record was damaged .* send it again/);
    expect(existsSync(bad.inputPath!)).toBe(false);
    expect(await svc.get('bad-delivery')).toMatchObject({ state: 'failed', error_code: 'corrupt_record' });
    // The failed job with a readable target is still delivered (as failed); the other has none.
    expect((await svc.undelivered()).map((j) => j.id)).toEqual(['bad-options', 'done']);
    expect((await svc.list('web:b')).map((j) => j.state)).toEqual(['failed']);
    expect(damaged.sort()).toEqual(['bad-delivery', 'bad-options', 'setting:paused']);
    await svc.shutdown();
  });

  it('keeps limits set at run time across a restart', async () => {
    const dir = tempDir();
    const first = service(new Journal(dir));
    await first.svc.open();
    expect(await first.svc.setLimits({ per_user: 7 })).toEqual({ per_user: 7, max_queued: 100 });
    await first.svc.shutdown();
    const second = service(new Journal(dir));
    await second.svc.open();
    expect((await second.svc.queue()).limits).toEqual({ per_user: 7, max_queued: 100 });
    await second.svc.shutdown();
  });
});
