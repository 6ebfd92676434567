import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DataDirLockedError, lockDataDir } from '../../src/service/data-lock.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('DATA_DIR lock', () => {
  it('refuses a second sidecar while the owner lives, and takes over a lock left by a dead one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-lock-'));
    dirs.push(dir);
    const lockFile = path.join(dir, 'sidecar.lock');
    const other = spawn('sleep', ['30']);
    try {
      writeFileSync(lockFile, String(other.pid));
      expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
      expect(() => lockDataDir(dir)).toThrow(
        new RegExp(`in use by another stillmotion process \\(pid ${other.pid}\\)`),
      );
    } finally {
      other.kill('SIGKILL');
      await new Promise((r) => other.once('exit', r));
    }
    // The owner died without cleaning up (kill -9): its lock is stale.
    const release = lockDataDir(dir);
    expect(existsSync(lockFile)).toBe(true);
    release();
    expect(existsSync(lockFile)).toBe(false);
  });
});
