/** Journal recovery and disk cleanup, on a real SQLite journal under a temp DATA_DIR. */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspectImage, loadModelInfo, resolveOptions } from '@stillmotion/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import { LocalJobService } from '../../src/service/job-service.ts';
import { Journal } from '../../src/service/journal.ts';
import { LocalBackend } from '../../src/service/local-backend.ts';
import type { BackendJob } from '../../src/service/queue-backend.ts';

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
