/**
 * The latest live preview of each job (`GET /v1/jobs/:id/preview`, src/service/README.md): kept in memory
 * while the job runs and written to `DATA_DIR/previews/<id>.<step>.webp`, so it is still there after
 * the job ends and after a restart. One file per job; a newer step replaces the older file.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface StoredPreview {
  readonly step: number;
  readonly type: 'image/webp';
  readonly data: Buffer;
}

export class PreviewStore {
  readonly dir: string;
  /** id → the step on disk. */
  readonly #steps = new Map<string, number>();
  /** The running jobs' latest previews, so that a poll does not read the disk. */
  readonly #live = new Map<string, StoredPreview>();

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      const m = /^([A-Za-z0-9_-]+)\.(\d+)\.webp$/.exec(name);
      if (m) this.#steps.set(m[1]!, Number(m[2]));
      else rmSync(path.join(dir, name), { force: true }); // a write cut short
    }
  }

  /** Stores a newer preview; an older step than the one kept is ignored. */
  put(id: string, step: number, data: Buffer): void {
    const before = this.#steps.get(id);
    if (before !== undefined && step <= before) return;
    const file = this.#file(id, step);
    writeFileSync(`${file}.tmp`, data);
    renameSync(`${file}.tmp`, file);
    if (before !== undefined) rmSync(this.#file(id, before), { force: true });
    this.#steps.set(id, step);
    this.#live.set(id, { step, type: 'image/webp', data });
  }

  /** The step of the latest preview; 0 when there is none. */
  step(id: string): number {
    return this.#steps.get(id) ?? 0;
  }

  get(id: string): StoredPreview | undefined {
    const live = this.#live.get(id);
    if (live) return live;
    const step = this.#steps.get(id);
    if (step === undefined) return undefined;
    try {
      return { step, type: 'image/webp', data: readFileSync(this.#file(id, step)) };
    } catch {
      this.#steps.delete(id);
      return undefined;
    }
  }

  /** The job ended: its preview stays on disk only. */
  settle(id: string): void {
    this.#live.delete(id);
  }

  delete(id: string): void {
    const step = this.#steps.get(id);
    if (step !== undefined) rmSync(this.#file(id, step), { force: true });
    this.#steps.delete(id);
    this.#live.delete(id);
  }

  /** Removes the previews of jobs `keep` says no longer exist; returns how many. */
  prune(keep: (id: string) => boolean): number {
    let removed = 0;
    for (const id of [...this.#steps.keys()]) {
      if (keep(id)) continue;
      this.delete(id);
      removed++;
    }
    return removed;
  }

  #file(id: string, step: number): string {
    return path.join(this.dir, `${id}.${step}.webp`);
  }
}
