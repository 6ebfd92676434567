/**
 * The DATA_DIR lock with real processes: a live owner keeps it; a `kill -9`ed owner loses it at
 * once, even while it is still a zombie that nobody has reaped (a pid check would see it alive).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir } from '../../src/service/data-lock.ts';

const holder = path.join(import.meta.dirname, 'lock-holder.ts');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-lock-'));
  dirs.push(dir);
  return dir;
}

/** Runs `command` in sh and resolves with the pid the holder prints once it has the lock. */
function startHolder(script: string): Promise<number> {
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /locked (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${out}`)));
  });
}

const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0];

describe('DATA_DIR lock', () => {
  it('refuses a second sidecar while the owner lives, naming it', async () => {
    const dir = tempDir();
    const pid = await startHolder(`exec "${process.execPath}" "${holder}" "${dir}"`);
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    expect(() => lockDataDir(dir)).toThrow(
      new RegExp(`in use by another stillmotion process \\(pid ${pid}\\)`),
    );
  });

  it('is free at once after kill -9, while the dead owner is still an unreaped zombie', async () => {
    const dir = tempDir();
    // The holder's parent becomes `sleep`, which never reaps it: after kill -9 it stays a zombie.
    const pid = await startHolder(`"${process.execPath}" "${holder}" "${dir}" & exec sleep 30`);
    process.kill(pid, 'SIGKILL');
    // Dead means every thread is gone: Node's leader thread can show 'Z' while its worker threads,
    // which share the open files, are still exiting. Then only the unreaped zombie is left.
    const dead = () => state(pid) === 'Z' && readdirSync(`/proc/${pid}/task`).length === 1;
    for (let i = 0; i < 500 && !dead(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(state(pid)).toBe('Z');
    expect(readdirSync(`/proc/${pid}/task`)).toHaveLength(1);
    const release = lockDataDir(dir);
    expect(readFileSync(path.join(dir, 'sidecar.pid'), 'utf8').trim()).toBe(String(process.pid));
    // In this process too, a second sidecar is refused until the first lets go.
    expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
    release();
    expect(existsSync(path.join(dir, 'sidecar.pid'))).toBe(false);
    lockDataDir(dir)();
  });
});
