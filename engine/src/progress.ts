/** Progress events the pipeline reports: one per denoising step, one per decoded chunk, then video. */
export type ProgressEvent =
  | { readonly stage: 'denoise'; readonly step: number; readonly steps: number; readonly stepMs: number }
  | { readonly stage: 'decode'; readonly chunk: number; readonly chunks: number }
  | { readonly stage: 'video' };

export type ProgressCallback = (event: ProgressEvent) => void;
