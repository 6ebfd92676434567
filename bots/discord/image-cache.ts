/**
 * Keeps the input pictures of recent jobs in memory (the job service deletes its copy when a job
 * ends), so Reroll and More/Less motion can start a new job without downloading again. Bounded by
 * total bytes; the oldest entries go first. Misses fall back to the job's source URL.
 */
export class ImageCache {
  readonly #maxBytes: number;
  readonly #entries = new Map<string, Buffer>();
  #bytes = 0;

  constructor(maxBytes = 256 * 1024 * 1024) {
    this.#maxBytes = maxBytes;
  }

  get(jobId: string): Buffer | undefined {
    const image = this.#entries.get(jobId);
    if (image) {
      this.#entries.delete(jobId);
      this.#entries.set(jobId, image);
    }
    return image;
  }

  set(jobId: string, image: Buffer): void {
    this.delete(jobId);
    this.#entries.set(jobId, image);
    this.#bytes += image.byteLength;
    for (const [id, old] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#entries.delete(id);
      this.#bytes -= old.byteLength;
    }
  }

  delete(jobId: string): void {
    const old = this.#entries.get(jobId);
    if (old) {
      this.#entries.delete(jobId);
      this.#bytes -= old.byteLength;
    }
  }
}
