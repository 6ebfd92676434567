/**
 * Live previews in chat (PREVIEW_IN_CHAT=1, off by default): which preview, if any, goes out with a
 * status edit. Discord replaces the status message's image at most every 5 s; Slack, where each image
 * is an upload, gets one still at about half-way.
 */
import sharp from 'sharp';
import type { JobService, JobView } from '../service/types.ts';

export const DISCORD_PREVIEW_INTERVAL_MS = 5000;

/** Discord: the latest animated WebP when a newer step is out and 5 s passed since the last one. */
export class PreviewPacer {
  readonly #service: JobService;
  readonly #intervalMs: number;
  #step = 0;
  #at = Number.NEGATIVE_INFINITY;
  /** Images sent so far (for the API-call count). */
  sent = 0;

  constructor(service: JobService, intervalMs = DISCORD_PREVIEW_INTERVAL_MS) {
    this.#service = service;
    this.#intervalMs = intervalMs;
  }

  async next(job: JobView, now = Date.now()): Promise<Buffer | undefined> {
    if (job.state !== 'running' || (job.preview_step ?? 0) <= this.#step || now - this.#at < this.#intervalMs)
      return undefined;
    const preview = await this.#service.preview(job.id).catch(() => undefined);
    if (!preview || preview.step <= this.#step) return undefined;
    this.#step = preview.step;
    this.#at = now;
    this.sent++;
    return preview.data;
  }

  /** True once an image was shown (the final edit then removes it). */
  get shown(): boolean {
    return this.sent > 0;
  }
}

/** Slack: one PNG still (the middle frame) once the denoising is about half-way; undefined otherwise. */
export async function halfwayStill(service: JobService, job: JobView): Promise<Buffer | undefined> {
  const { step, steps } = job.progress;
  if (job.state !== 'running' || steps === 0 || step < Math.ceil(steps / 2)) return undefined;
  const preview = await service.preview(job.id).catch(() => undefined);
  if (!preview) return undefined;
  const meta = await sharp(preview.data, { animated: true }).metadata();
  const page = Math.floor((meta.pages ?? 1) / 2);
  return sharp(preview.data, { page }).png().toBuffer();
}
