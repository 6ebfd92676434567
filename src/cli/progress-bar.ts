/** A one-line progress bar for a terminal (stderr): denoising steps with ETA, then decode chunks. */
import type { ProgressEvent } from '@stillmotion/engine';

export function progressLine(event: ProgressEvent, startedAt: number, width = 24): string {
  if (event.stage === 'denoise') {
    const elapsed = (performance.now() - startedAt) / 1000;
    const eta = (elapsed / event.step) * (event.steps - event.step);
    return `denoise ${bar(event.step / event.steps, width)} step ${event.step}/${event.steps}  ETA ${eta.toFixed(1)}s`;
  }
  if (event.stage === 'decode')
    return `decode  ${bar(event.chunk / event.chunks, width)} chunk ${event.chunk}/${event.chunks}`;
  return 'encoding video…';
}

export function bar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}
