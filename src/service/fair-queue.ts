/**
 * Round-robin fair queue across users, with a per-user cap (queued + running counted together)
 * and a global cap on the queue length. Pure data structure: no timers, no I/O.
 *
 * Users with waiting jobs sit in a ring; each start takes the oldest job of the user under the
 * cursor and moves the cursor on. A user who joins goes to the end of the current round, so a
 * user with 20 queued jobs holds back a newcomer by at most one job per other user.
 */
import { capReached } from './errors.ts';

export interface QueueCaps {
  readonly per_user: number;
  readonly max_queued: number;
}

export class FairQueue<T extends { readonly id: string; readonly user: string }> {
  /** Waiting jobs per user, oldest first. */
  readonly #waiting = new Map<string, T[]>();
  /** Users with waiting jobs, in service order starting at #cursor. */
  #ring: string[] = [];
  #cursor = 0;
  /** Running job ids per user (they count against the per-user cap). */
  readonly #running = new Map<string, Set<string>>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get runningCount(): number {
    let n = 0;
    for (const s of this.#running.values()) n += s.size;
    return n;
  }

  /** Queued + running jobs of this user. */
  activeOf(user: string): number {
    return (this.#waiting.get(user)?.length ?? 0) + (this.#running.get(user)?.size ?? 0);
  }

  /** Throws ServiceError 429 naming the cap that a new job of `user` would exceed. */
  checkCaps(user: string, caps: QueueCaps): void {
    const mine = this.activeOf(user);
    if (mine >= caps.per_user) throw capReached('user_limit', mine, caps.per_user);
    if (this.#size >= caps.max_queued) throw capReached('queue_full', this.#size, caps.max_queued);
  }

  /** Adds a job at the back of its user's line (or the front, for a job put back after a stop). */
  push(job: T, front = false): void {
    let line = this.#waiting.get(job.user);
    if (!line) {
      line = [];
      this.#waiting.set(job.user, line);
      // Join at the end of the current round: just before the cursor.
      if (front) {
        this.#ring.splice(this.#cursor, 0, job.user);
      } else {
        this.#ring.splice(this.#cursor, 0, job.user);
        this.#cursor = (this.#cursor + 1) % this.#ring.length;
      }
    } else if (front) {
      // Serve this user next.
      const at = this.#ring.indexOf(job.user);
      this.#ring.splice(at, 1);
      if (at < this.#cursor) this.#cursor--;
      this.#ring.splice(this.#cursor, 0, job.user);
    }
    if (front) line.unshift(job);
    else line.push(job);
    this.#size++;
  }

  /** Takes the next job in round-robin order and counts it as running. */
  shift(): T | undefined {
    if (this.#ring.length === 0) return undefined;
    if (this.#cursor >= this.#ring.length) this.#cursor = 0;
    const user = this.#ring[this.#cursor]!;
    const line = this.#waiting.get(user)!;
    const job = line.shift()!;
    this.#size--;
    if (line.length === 0) {
      this.#waiting.delete(user);
      this.#ring.splice(this.#cursor, 1);
    } else {
      this.#cursor++;
    }
    if (this.#cursor >= this.#ring.length) this.#cursor = 0;
    this.#markRunning(job.user, job.id);
    return job;
  }

  /** Removes a waiting job; returns it, or undefined if it was not waiting. */
  remove(id: string): T | undefined {
    for (const [user, line] of this.#waiting) {
      const at = line.findIndex((j) => j.id === id);
      if (at < 0) continue;
      const [job] = line.splice(at, 1);
      this.#size--;
      if (line.length === 0) {
        this.#waiting.delete(user);
        const r = this.#ring.indexOf(user);
        this.#ring.splice(r, 1);
        if (r < this.#cursor) this.#cursor--;
        if (this.#cursor >= this.#ring.length) this.#cursor = 0;
      }
      return job;
    }
    return undefined;
  }

  /** Removes every waiting job and returns them. */
  drain(): T[] {
    const all = this.ordered();
    this.#waiting.clear();
    this.#ring = [];
    this.#cursor = 0;
    this.#size = 0;
    return all;
  }

  /** A running job ended (or was put back): it no longer counts against its user's cap. */
  finish(user: string, id: string): void {
    const set = this.#running.get(user);
    set?.delete(id);
    if (set?.size === 0) this.#running.delete(user);
  }

  /** Counts a job as running without it having been queued here (recovery, tests). */
  #markRunning(user: string, id: string): void {
    let set = this.#running.get(user);
    if (!set) {
      set = new Set();
      this.#running.set(user, set);
    }
    set.add(id);
  }

  /** Every waiting job in the order they will start. */
  ordered(): T[] {
    const out: T[] = [];
    const n = this.#ring.length;
    const lines = Array.from(
      { length: n },
      (_, i) => this.#waiting.get(this.#ring[(this.#cursor + i) % n]!)!,
    );
    const longest = Math.max(0, ...lines.map((l) => l.length));
    for (let round = 0; round < longest; round++) {
      for (const line of lines) if (round < line.length) out.push(line[round]!);
    }
    return out;
  }

  /** 1-based position of a waiting job, or 0 if it is not waiting. */
  position(id: string): number {
    return this.ordered().findIndex((j) => j.id === id) + 1;
  }
}
