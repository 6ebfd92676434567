/**
 * The job journal: SQLite (node:sqlite) under DATA_DIR. Every accepted job is written here,
 * with its input picture on disk, before the API answers; it also keeps who asked, where to
 * deliver, whether it was delivered, how many times it started, and the queue settings.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { AnimateOptions } from '@stillmotion/engine';
import type { DailyQuotas } from './quota.ts';
import type { DeliveryTarget, JobState, QueueLimits } from './types.ts';

export interface JobRecord {
  readonly id: string;
  readonly seq: number;
  readonly user: string;
  readonly state: JobState;
  readonly options: AnimateOptions;
  readonly inputPath: string | null;
  readonly resultPath: string | null;
  readonly resultBytes: number;
  readonly delivery: DeliveryTarget | null;
  readonly delivered: boolean;
  /** How many times the job started running. */
  readonly attempts: number;
  readonly error: string | null;
  readonly errorCode: string | null;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
}

interface Row {
  id: string;
  seq: number;
  user: string;
  state: JobState;
  options: string;
  input_path: string | null;
  result_path: string | null;
  result_bytes: number;
  delivery: string | null;
  delivered: number;
  attempts: number;
  error: string | null;
  error_code: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  user TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','canceled')),
  options TEXT NOT NULL,
  input_path TEXT,
  result_path TEXT,
  result_bytes INTEGER NOT NULL DEFAULT 0,
  delivery TEXT,
  delivered INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  error_code TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_user ON jobs(user, seq);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS quota_counts (
  day TEXT NOT NULL,
  key TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (day, key)
);
`;

/** Shown for a job whose stored options cannot be read (the job is failed with a reason). */
const UNREADABLE_OPTIONS: AnimateOptions = Object.freeze({
  prompt: '',
  motion: 0,
  fps: 0,
  frames: 0,
  steps: 0,
  seed: 0,
  noise: 0,
  guidance: [0, 0] as const,
  size: 'auto',
  format: 'mp4',
  loop: 'off',
  smooth: 'off',
  steer: 0,
});

export const DAMAGED_REASON =
  'this job’s record was damaged on the service’s disk and cannot run; please send it again';

function parseOptions(text: string): AnimateOptions {
  const v = JSON.parse(text) as unknown;
  const o = v as Partial<AnimateOptions>;
  if (
    typeof v !== 'object' ||
    v === null ||
    typeof o.steps !== 'number' ||
    typeof o.frames !== 'number' ||
    typeof o.seed !== 'number' ||
    (o.format !== 'mp4' && o.format !== 'gif')
  ) {
    throw new Error('options are not an options object');
  }
  // Jobs journaled before loop and smooth existed ran without them.
  return { ...(v as AnimateOptions), loop: o.loop ?? 'off', smooth: o.smooth ?? 'off' };
}

function parseDelivery(text: string | null): DeliveryTarget | null {
  if (text === null) return null;
  const v = JSON.parse(text) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('delivery is not an object');
  return v as DeliveryTarget;
}

/** A row as a record; `problem` says why a damaged row could not be read as it is. */
function toRecord(r: Row): { record: JobRecord; problem?: string } {
  let options = UNREADABLE_OPTIONS;
  let delivery: DeliveryTarget | null = null;
  const problems: string[] = [];
  try {
    options = parseOptions(r.options);
  } catch (err) {
    problems.push(`options: ${(err as Error).message}`);
  }
  try {
    delivery = parseDelivery(r.delivery);
  } catch (err) {
    problems.push(`delivery: ${(err as Error).message}`);
  }
  const damaged = problems.length > 0;
  // A job that was still to run cannot: it fails with a reason. An ended one keeps its outcome.
  const fails = damaged && (r.state === 'queued' || r.state === 'running');
  const record: JobRecord = {
    id: r.id,
    seq: r.seq,
    user: r.user,
    state: fails ? 'failed' : r.state,
    options,
    inputPath: r.input_path,
    resultPath: r.result_path,
    resultBytes: r.result_bytes,
    delivery,
    delivered: r.delivered === 1,
    attempts: r.attempts,
    error: fails ? DAMAGED_REASON : r.error,
    errorCode: fails ? 'corrupt_record' : r.error_code,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
  return damaged ? { record, problem: problems.join('; ') } : { record };
}

/** Writes a file and flushes it to disk before returning. */
function writeDurable(file: string, data: Uint8Array): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Told once about each damaged row found (it is then failed with a reason and skipped). */
export type DamagedRowListener = (id: string, problem: string) => void;

export class Journal {
  readonly dir: string;
  readonly inputsDir: string;
  readonly resultsDir: string;
  readonly #db: DatabaseSync;
  readonly #onDamaged: DamagedRowListener;
  readonly #told = new Set<string>();

  constructor(dataDir: string, options: { onDamaged?: DamagedRowListener } = {}) {
    this.#onDamaged = options.onDamaged ?? (() => {});
    this.dir = dataDir;
    this.inputsDir = path.join(dataDir, 'inputs');
    this.resultsDir = path.join(dataDir, 'results');
    mkdirSync(this.inputsDir, { recursive: true });
    mkdirSync(this.resultsDir, { recursive: true });
    this.#db = new DatabaseSync(path.join(dataDir, 'journal.sqlite'));
    this.#db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;');
    this.#db.exec(SCHEMA);
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }

  /** Journals a new queued job with its input picture; durable when this returns. */
  insert(job: {
    id: string;
    user: string;
    options: AnimateOptions;
    image: Uint8Array;
    imageExt: string;
    delivery?: DeliveryTarget;
    now?: number;
  }): JobRecord {
    const inputPath = path.join(this.inputsDir, `${job.id}.${job.imageExt}`);
    writeDurable(inputPath, job.image);
    try {
      this.#db
        .prepare(
          `INSERT INTO jobs (id, user, state, options, input_path, delivery, created_at)
           VALUES (?, ?, 'queued', ?, ?, ?, ?)`,
        )
        .run(
          job.id,
          job.user,
          JSON.stringify(job.options),
          inputPath,
          job.delivery === undefined ? null : JSON.stringify(job.delivery),
          job.now ?? Date.now(),
        );
    } catch (err) {
      rmSync(inputPath, { force: true });
      throw err;
    }
    return this.get(job.id)!;
  }

  get(id: string): JobRecord | undefined {
    const row = this.#db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? this.#read([row])[0] : undefined;
  }

  listByUser(user: string, limit = 50): JobRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM jobs WHERE user = ? ORDER BY seq DESC LIMIT ?')
      .all(user, limit) as unknown as Row[];
    return this.#read(rows);
  }

  listByState(...states: JobState[]): JobRecord[] {
    const marks = states.map(() => '?').join(',');
    const rows = this.#db
      .prepare(`SELECT * FROM jobs WHERE state IN (${marks}) ORDER BY seq`)
      .all(...states) as unknown as Row[];
    // A damaged queued or running row reads as failed: it is no longer in these states.
    return this.#read(rows).filter((r) => states.includes(r.state));
  }

  /** Ended jobs with a delivery target not yet marked delivered, oldest first. */
  undelivered(): JobRecord[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM jobs WHERE delivery IS NOT NULL AND delivered = 0
         AND state IN ('succeeded','failed','canceled') ORDER BY seq`,
      )
      .all() as unknown as Row[];
    // A row whose delivery target cannot be read has nowhere to go.
    return this.#read(rows).filter((r) => r.delivery !== null);
  }

  /**
   * Rows as records. One damaged row never stops the others: it is told to the listener, its job
   * (if it was waiting or running) is failed with a reason, and its picture is removed.
   */
  #read(rows: readonly Row[]): JobRecord[] {
    return rows.map((row) => {
      const { record, problem } = toRecord(row);
      if (problem === undefined) return record;
      if (!this.#told.has(row.id)) {
        this.#told.add(row.id);
        this.#onDamaged(row.id, problem);
      }
      if (row.state !== 'queued' && row.state !== 'running' && row.input_path === null) return record;
      if (row.input_path) rmSync(row.input_path, { force: true });
      const finishedAt = record.finishedAt ?? Date.now();
      this.#db
        .prepare(
          'UPDATE jobs SET state = ?, error = ?, error_code = ?, input_path = NULL, finished_at = ? WHERE id = ?',
        )
        .run(record.state, record.error, record.errorCode, finishedAt, row.id);
      return { ...record, inputPath: null, finishedAt };
    });
  }

  markRunning(id: string, now = Date.now()): JobRecord {
    this.#db
      .prepare(`UPDATE jobs SET state = 'running', attempts = attempts + 1, started_at = ? WHERE id = ?`)
      .run(now, id);
    return this.get(id)!;
  }

  /** Puts a job back in the queue; `refundAttempt` undoes the start count (a clean shutdown). */
  requeue(id: string, refundAttempt: boolean): void {
    this.#db
      .prepare(
        `UPDATE jobs SET state = 'queued', started_at = NULL,
         attempts = CASE WHEN ? THEN MAX(attempts - 1, 0) ELSE attempts END WHERE id = ?`,
      )
      .run(refundAttempt ? 1 : 0, id);
  }

  markSucceeded(id: string, resultPath: string, resultBytes: number, now = Date.now()): void {
    this.#db
      .prepare(
        `UPDATE jobs SET state = 'succeeded', result_path = ?, result_bytes = ?, finished_at = ?,
         error = NULL, error_code = NULL WHERE id = ?`,
      )
      .run(resultPath, resultBytes, now, id);
  }

  markEnded(
    id: string,
    state: 'failed' | 'canceled',
    error: string,
    errorCode: string,
    now = Date.now(),
  ): void {
    this.#db
      .prepare('UPDATE jobs SET state = ?, error = ?, error_code = ?, finished_at = ? WHERE id = ?')
      .run(state, error, errorCode, now, id);
  }

  clearInput(id: string): void {
    this.#db.prepare('UPDATE jobs SET input_path = NULL WHERE id = ?').run(id);
  }

  clearResult(id: string): void {
    this.#db.prepare('UPDATE jobs SET result_path = NULL, result_bytes = 0 WHERE id = ?').run(id);
  }

  markDelivered(id: string): boolean {
    return this.#db.prepare('UPDATE jobs SET delivered = 1 WHERE id = ?').run(id).changes > 0;
  }

  /** Ended jobs that finished before `before`. */
  endedBefore(before: number): JobRecord[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM jobs WHERE state IN ('succeeded','failed','canceled') AND finished_at < ? ORDER BY finished_at`,
      )
      .all(before) as unknown as Row[];
    return this.#read(rows);
  }

  /** Jobs still holding a result file, oldest first (delivered ones before undelivered). */
  withResults(): JobRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM jobs WHERE result_path IS NOT NULL ORDER BY delivered DESC, finished_at')
      .all() as unknown as Row[];
    return this.#read(rows);
  }

  delete(id: string): void {
    this.#db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
  }

  /** Input paths the journal still refers to (to sweep orphans left by a crash mid-accept). */
  knownInputs(): Set<string> {
    const rows = this.#db.prepare('SELECT input_path FROM jobs WHERE input_path IS NOT NULL').all() as {
      input_path: string;
    }[];
    return new Set(rows.map((r) => r.input_path));
  }

  knownResults(): Set<string> {
    const rows = this.#db.prepare('SELECT result_path FROM jobs WHERE result_path IS NOT NULL').all() as {
      result_path: string;
    }[];
    return new Set(rows.map((r) => r.result_path));
  }

  getSettings(): { paused?: boolean; limits?: Partial<QueueLimits> } {
    const rows = this.#db.prepare('SELECT key, value FROM settings').all() as {
      key: string;
      value: string;
    }[];
    const out: { paused?: boolean; limits?: Partial<QueueLimits> } = {};
    for (const { key, value } of rows) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        this.#onDamaged(`setting:${key}`, 'not JSON');
        continue;
      }
      if (key === 'paused' && typeof parsed === 'boolean') out.paused = parsed;
      if (key === 'limits' && typeof parsed === 'object' && parsed !== null) {
        const l = parsed as Record<string, unknown>;
        out.limits = {
          ...(Number.isInteger(l.per_user) ? { per_user: l.per_user as number } : {}),
          ...(Number.isInteger(l.max_queued) ? { max_queued: l.max_queued as number } : {}),
        };
      }
    }
    return out;
  }

  /** The daily quotas an admin set (either may be missing: the configured default holds). */
  getQuotas(): Partial<DailyQuotas> {
    const row = this.#db.prepare("SELECT value FROM settings WHERE key = 'quotas'").get() as
      | { value: string }
      | undefined;
    if (!row) return {};
    try {
      const q = JSON.parse(row.value) as Record<string, unknown>;
      return {
        ...(Number.isInteger(q.user) ? { user: q.user as number } : {}),
        ...(Number.isInteger(q.guild) ? { guild: q.guild as number } : {}),
      };
    } catch {
      this.#onDamaged('setting:quotas', 'not JSON');
      return {};
    }
  }

  /** Jobs counted today against each key (`user:<id>`, `guild:<id>`). */
  quotaUsed(day: string, key: string): number {
    const row = this.#db.prepare('SELECT count FROM quota_counts WHERE day = ? AND key = ?').get(day, key) as
      | { count: number }
      | undefined;
    return row?.count ?? 0;
  }

  /**
   * Counts one job against each quota, all or none: answers the first quota already used up (and
   * counts nothing), or undefined once every count went up. Older days are dropped.
   */
  takeQuota(day: string, quotas: readonly { key: string; limit: number }[]): string | undefined {
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      for (const q of quotas) {
        if (q.limit > 0 && this.quotaUsed(day, q.key) >= q.limit) {
          this.#db.exec('ROLLBACK');
          return q.key;
        }
      }
      const bump = this.#db.prepare(
        'INSERT INTO quota_counts (day, key, count) VALUES (?, ?, 1) ON CONFLICT(day, key) DO UPDATE SET count = count + 1',
      );
      for (const q of quotas) bump.run(day, q.key);
      this.#db.prepare('DELETE FROM quota_counts WHERE day < ?').run(day);
      this.#db.exec('COMMIT');
      return undefined;
    } catch (err) {
      this.#db.exec('ROLLBACK');
      throw err;
    }
  }

  saveSetting(key: 'paused' | 'limits' | 'quotas', value: unknown): void {
    this.#db
      .prepare(
        'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
      )
      .run(key, JSON.stringify(value));
  }
}
