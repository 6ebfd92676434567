/**
 * Durability: the real `npm start` entry point as a child process. Accept jobs, kill -9 its
 * process group mid-job, start again on the same DATA_DIR: every job completes, and every result
 * is still waiting to be delivered. SIGTERM puts the running job back without using its retry.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, describe, expect, it } from 'vitest';
import { call, png, postJob } from './harness.ts';
import { killAll, spawnMain, until } from './spawn-main.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'stillmotion-restart-'));
const TOKEN = 'restart-token-0123456789abcdef';
const bot = { token: TOKEN };
const startServer = () => spawnMain({ DATA_DIR: dataDir, STILLMOTION_ADMIN_TOKEN: TOKEN });

const jobState = async (url: string, id: string) => (await call(url, 'GET', `/v1/jobs/${id}`, bot)).body;

function attemptsOf(id: string): number {
  const db = new DatabaseSync(path.join(dataDir, 'journal.sqlite'), { readOnly: true });
  try {
    return (db.prepare('SELECT attempts FROM jobs WHERE id = ?').get(id) as { attempts: number }).attempts;
  } finally {
    db.close();
  }
}

afterAll(() => {
  killAll();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('restart durability', () => {
  it('runs every accepted job after kill -9, retrying the one that was running, and keeps them undelivered', async () => {
    const first = await startServer();
    const image = await png();
    const ids: string[] = [];
    for (const [i, user] of ['web:a', 'web:b', 'web:a', 'web:c'].entries()) {
      const res = await postJob(first.url, {
        image,
        fields: {
          frames: '3',
          steps: i === 0 ? '6' : '1',
          seed: String(i),
          user,
          delivery: JSON.stringify({ n: i }),
        },
        ...bot,
      });
      expect(res.status).toBe(202);
      ids.push(res.body.id);
    }
    await until(async () => ((await jobState(first.url, ids[0]!)).progress.step >= 1 ? true : undefined));
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;

    const second = await startServer();
    let last: unknown;
    const done = await until(async () => {
      const views = await Promise.all(ids.map((id) => jobState(second.url, id)));
      last = views;
      return views.every((v) => v.state === 'succeeded') ? views : undefined;
    }).catch((err) => {
      throw new Error(`${err.message}: ${JSON.stringify(last)}`);
    });
    expect(done.map((v) => v.delivery)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
    expect(attemptsOf(ids[0]!)).toBe(2);
    const pending = await call(second.url, 'GET', '/v1/jobs?undelivered=1', bot);
    expect(pending.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual([...ids].sort());
    for (const id of ids.slice(0, 2)) await call(second.url, 'POST', `/v1/jobs/${id}/delivered`, bot);
    const video = await fetch(new URL(`v1/jobs/${ids[3]}/result`, second.url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(video.status).toBe(200);

    // SIGTERM with a job running: it goes back to the queue with its retry intact, and the process exits.
    const long = await postJob(second.url, {
      image,
      fields: { frames: '3', steps: '30', user: 'web:d' },
      ...bot,
    });
    await until(async () =>
      (await jobState(second.url, long.body.id)).progress.step >= 1 ? true : undefined,
    );
    process.kill(second.child.pid!, 'SIGTERM');
    expect(await second.exited).toBe(0);
    expect(attemptsOf(long.body.id)).toBe(0);

    const third = await startServer();
    const remaining = await call(third.url, 'GET', '/v1/jobs?undelivered=1', bot);
    expect(remaining.body.jobs.map((j: { id: string }) => j.id).sort()).toEqual(ids.slice(2).sort());
    await until(async () =>
      (await jobState(third.url, long.body.id)).progress.step >= 1 ? true : undefined,
    );
    await call(third.url, 'DELETE', `/v1/jobs/${long.body.id}`, bot);
    expect((await jobState(third.url, long.body.id)).state).toBe('canceled');
    expect(attemptsOf(long.body.id)).toBe(1);
    process.kill(third.child.pid!, 'SIGTERM');
    expect(await third.exited).toBe(0);
  });
});
