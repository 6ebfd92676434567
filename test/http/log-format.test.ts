/** Logs a person can read: pino-pretty on a terminal (LOG_FORMAT unset), JSON otherwise. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, wantsPretty } from '../../src/log.ts';
import { png, postJob } from './harness.ts';
import { killAll, spawnMain } from './spawn-main.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  killAll();
  for (const c of children) if (c.exitCode === null && c.pid) process.kill(-c.pid, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'sm-logs-'));
  dirs.push(d);
  return d;
}

const ESC = String.fromCharCode(27);
const plain = (text: string) => text.replace(new RegExp(`${ESC}\\[[0-9;]*m`, 'g'), '').replace(/\r/g, '');

describe('log format', () => {
  it('is pretty on a TTY when LOG_FORMAT is unset or pretty; JSON when piped or LOG_FORMAT=json', () => {
    expect(wantsPretty(undefined, true)).toBe(true);
    expect(wantsPretty(undefined, false)).toBe(false);
    expect(wantsPretty('json', true)).toBe(false);
    expect(wantsPretty('pretty', false)).toBe(true);
  });

  it('writes one readable line per entry, secrets still redacted', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const log = createLogger('info', { format: 'pretty', destination: sink as never });
    log.info({ job: 'abc', user: 'web:s1', options: '--motion 127', token: 'sekrit' }, 'job started');
    expect(out.trim().split('\n')).toHaveLength(1);
    expect(out).toMatch(/INFO.*job started/);
    expect(out).toContain('"user":"web:s1"');
    expect(out).not.toContain('sekrit');
    expect(() => JSON.parse(out)).toThrow();
  });

  it('npm start in a terminal: one readable line at the start and at the end of a job, with id, user, options and time', async () => {
    const child = spawn('script', ['-qfec', `${process.execPath} src/main.ts`, '/dev/null'], {
      cwd: root,
      detached: true,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        PORT: '0',
        SVD_DEVICE: 'cpu',
        DATA_DIR: dataDir(),
        TERM: 'xterm',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const until = async (re: RegExp) => {
      for (let t = 0; t < 600 && !re.test(plain(out)); t++) await new Promise((r) => setTimeout(r, 100));
      const m = re.exec(plain(out));
      if (!m) throw new Error(`no ${re} in:\n${plain(out)}`);
      return m;
    };
    const url = (await until(/playground at (http:\/\/\S+)/))[1]!;
    await until(/engine warm/);
    const posted = await postJob(url, { image: await png(), fields: { frames: '2', steps: '1', seed: '9' } });
    expect(posted.status).toBe(202);
    const id = posted.body.id as string;
    const startLine = (await until(new RegExp(`^.*job started.*${id}.*$`, 'm')))[0];
    const endLine = (await until(new RegExp(`^.*job succeeded.*${id}.*$`, 'm')))[0];
    for (const line of [startLine, endLine]) {
      expect(line).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: /);
      expect(line).toContain('"user":"http:127.0.0.1"');
      expect(line).toContain('--seed 9');
    }
    expect(startLine).toMatch(/"waited_s":[\d.]+/);
    expect(endLine).toMatch(/"seconds":[\d.]+/);
    expect(plain(out)).not.toMatch(/^\{"level"/m);
    process.kill(-child.pid!, 'SIGINT');
  });

  it('npm start with stderr piped: JSON lines', async () => {
    const main = await spawnMain({ DATA_DIR: dataDir(), LOG_LEVEL: 'info' });
    await new Promise((r) => setTimeout(r, 200));
    const lines = main
      .stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'));
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.parse(lines[0]!)).toHaveProperty('level');
    main.child.kill('SIGINT');
  });
});
