/** `npm start` (src/main.ts) as a real process: config errors, ffmpeg missing, ENGINE_URL mode. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { call, png, postJob } from './harness.ts';
import { killAll, spawnMain, until } from './spawn-main.ts';

const TOKEN = 'main-test-token-0123456789abcdef';
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(tmpdir(), 'stillmotion-main-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  killAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('npm start', () => {
  it('refuses a non-loopback HOST without a token, with one clear line and exit code 2', async () => {
    const err = await spawnMain({ DATA_DIR: tempDir(), HOST: '0.0.0.0' }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/exited 2/);
    expect((err as Error).message).toMatch(/HOST: refusing to bind 0\.0\.0\.0 .*STILLMOTION_ADMIN_TOKEN/);
  });

  it('refuses a second process on the same DATA_DIR', async () => {
    const dir = tempDir();
    const first = await spawnMain({ DATA_DIR: dir });
    const err = await spawnMain({ DATA_DIR: dir }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/exited 1/);
    expect((err as Error).message).toMatch(/in use by another stillmotion process \(pid \d+\)/);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });

  it('starts again at once on the DATA_DIR of a process killed with kill -9', async () => {
    const dir = tempDir();
    const first = await spawnMain({ DATA_DIR: dir });
    process.kill(-first.child.pid!, 'SIGKILL');
    // Not waiting for the dead process to be reaped: the kernel has already dropped its lock.
    const second = await spawnMain({ DATA_DIR: dir });
    expect((await call(second.url, 'GET', '/healthz')).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('reports a missing ffmpeg at start, not at the first job', async () => {
    const main = await spawnMain({ DATA_DIR: tempDir(), FFMPEG_PATH: '/nonexistent/ffmpeg' });
    expect(await main.exited).toBe(1);
    expect(main.stderr()).toMatch(/engine cannot start: FFMPEG_PATH is set to "\/nonexistent\/ffmpeg"/);
  });

  it('with ENGINE_URL, serves the same API through the remote sidecar', async () => {
    const sidecar = await spawnMain({ DATA_DIR: tempDir(), STILLMOTION_ADMIN_TOKEN: TOKEN });
    const front = await spawnMain({
      DATA_DIR: tempDir(),
      ENGINE_URL: sidecar.url,
      STILLMOTION_ADMIN_TOKEN: TOKEN,
    });
    const posted = await postJob(front.url, {
      image: await png(),
      fields: { frames: '2', steps: '1', seed: '3', user: 'discord:77' },
      token: TOKEN,
    });
    expect(posted.status).toBe(202);
    const id = posted.body.id;
    const done = await until(async () => {
      const job = (await call(front.url, 'GET', `/v1/jobs/${id}`, { token: TOKEN })).body;
      return job.state === 'succeeded' ? job : undefined;
    });
    expect(done).toMatchObject({ user: 'discord:77', seed: 3 });
    // The job lives in the sidecar's journal, not the front's.
    expect((await call(sidecar.url, 'GET', `/v1/jobs/${id}`, { token: TOKEN })).body.state).toBe('succeeded');
    const video = await fetch(new URL(`v1/jobs/${id}/result`, front.url), {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(video.status).toBe(200);
    expect(
      Buffer.from(await video.arrayBuffer())
        .subarray(4, 8)
        .toString('latin1'),
    ).toBe('ftyp');
    expect((await call(front.url, 'GET', '/v1/queue', { token: TOKEN })).body).toMatchObject({
      paused: false,
    });
    expect((await call(front.url, 'GET', '/v1/queue')).status).toBe(401);
    const bad = await postJob(front.url, { image: await png(), fields: { fps: '0' } });
    expect(bad).toMatchObject({ status: 400, body: { option: 'fps' } });
  });
});
