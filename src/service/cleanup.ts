/**
 * Disk hygiene under DATA_DIR: results expire after a TTL, the results folder stays under a size
 * cap (oldest delivered results go first), and files no journal row refers to are removed.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Journal } from './journal.ts';

export interface CleanupPolicy {
  readonly ttlMs: number;
  readonly maxBytes: number;
}

export interface CleanupReport {
  readonly expired: number;
  readonly evicted: number;
  readonly orphans: number;
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * One sweep. `activeIds` are jobs queued or running in this process: their files are never
 * touched. Rows of jobs past the TTL are deleted along with their files.
 */
export function sweep(
  journal: Journal,
  policy: CleanupPolicy,
  activeIds: ReadonlySet<string>,
  now = Date.now(),
): CleanupReport {
  let expired = 0;
  for (const job of journal.endedBefore(now - policy.ttlMs)) {
    if (job.resultPath) rmSync(job.resultPath, { force: true });
    if (job.inputPath) rmSync(job.inputPath, { force: true });
    journal.delete(job.id);
    expired++;
  }

  let evicted = 0;
  const results = journal.withResults();
  let total = results.reduce((sum, j) => sum + (j.resultBytes || sizeOf(j.resultPath!)), 0);
  for (const job of results) {
    if (total <= policy.maxBytes) break;
    rmSync(job.resultPath!, { force: true });
    journal.clearResult(job.id);
    total -= job.resultBytes;
    evicted++;
  }

  let orphans = 0;
  // Inputs of ended jobs (normally deleted when the job ends; a crash can leave one behind).
  for (const job of journal.endedBefore(now + 1)) {
    if (!job.inputPath) continue;
    rmSync(job.inputPath, { force: true });
    journal.clearInput(job.id);
    orphans++;
  }
  const known = new Set([...journal.knownInputs(), ...journal.knownResults()]);
  for (const dir of [journal.inputsDir, journal.resultsDir]) {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      const id = name.split('.')[0]!;
      if (known.has(file) || activeIds.has(id)) continue;
      rmSync(file, { force: true });
      orphans++;
    }
  }
  return { expired, evicted, orphans };
}
