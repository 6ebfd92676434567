/**
 * One sidecar per DATA_DIR. A second process on the same journal would requeue the first one's
 * running job, so it is refused. The lock is an exclusive SQLite lock (an fcntl lock underneath)
 * on `sidecar.lock.sqlite`, held open for the life of the process: the kernel drops it the moment
 * the process dies, even while a `kill -9`ed process waits to be reaped as a zombie. Nothing
 * trusts pid liveness; the pid written beside it only names the owner in the refusal.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';

export class DataDirLockedError extends Error {
  override name = 'DataDirLockedError';
  readonly code = 'data_dir_locked';
}

const LOCK_FILE = 'sidecar.lock.sqlite';
const PID_FILE = 'sidecar.pid';
/** Locks held by this process: kept reachable so that no collector closes them. */
const held = new Set<DatabaseSync>();

function ownerPid(dataDir: string): string {
  try {
    const pid = readFileSync(path.join(dataDir, PID_FILE), 'utf8').trim();
    return /^\d+$/.test(pid) ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}

/** Takes the lock or throws DataDirLockedError naming the owner; returns a release function. */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const db = new DatabaseSync(path.join(dataDir, LOCK_FILE), { timeout: 0 });
  try {
    // EXCLUSIVE locking mode keeps the write lock after the first write until the file is closed.
    db.exec('PRAGMA locking_mode = EXCLUSIVE');
    db.exec('CREATE TABLE IF NOT EXISTS lock (pid INTEGER)');
    db.exec('BEGIN EXCLUSIVE');
    db.prepare('DELETE FROM lock').run();
    db.prepare('INSERT INTO lock (pid) VALUES (?)').run(process.pid);
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if (/locked|busy/i.test((err as Error).message)) {
      throw new DataDirLockedError(
        `DATA_DIR ${dataDir} is in use by another stillmotion process${ownerPid(dataDir)}; stop it or set another DATA_DIR`,
      );
    }
    throw err;
  }
  held.add(db);
  writeFileSync(path.join(dataDir, PID_FILE), `${process.pid}\n`);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    rmSync(path.join(dataDir, PID_FILE), { force: true });
    held.delete(db);
    db.close();
  };
}
