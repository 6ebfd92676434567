/**
 * What the job service needs from the engine (`SvdEngine` satisfies it). Kept small so the
 * service can start answering before the engine has loaded: submissions only need the model
 * info, the option grammar and the header-only image check.
 */
import type { AnimateOptions, ModelInfo, ProgressEvent } from '@stillmotion/engine';

export type ModelSummary = Pick<
  ModelInfo,
  | 'name'
  | 'randomWeights'
  | 'frames'
  | 'width'
  | 'height'
  | 'fps'
  | 'motion'
  | 'steps'
  | 'guidance'
  | 'maxSteps'
  | 'steerable'
>;

export interface ImageLimits {
  readonly maxBytes?: number;
  readonly maxPixels?: number;
}

export interface ImageMeta {
  readonly format: string;
  readonly width: number;
  readonly height: number;
}

export type InspectImage = (image: Buffer, limits?: ImageLimits) => Promise<ImageMeta>;

export interface AnimateRun {
  readonly path: string;
  readonly bytes?: number;
  readonly seed: number;
  readonly timings: { readonly total_ms: number; readonly unet_step_ms: readonly number[] };
}

export interface EnginePort {
  readonly model: ModelSummary;
  readonly provider: string;
  warmup(): Promise<void>;
  animate(
    image: Buffer,
    options: AnimateOptions,
    ctx: {
      readonly outPath: string;
      readonly signal?: AbortSignal;
      readonly onProgress?: (e: ProgressEvent) => void;
      readonly onPreview?: (p: { readonly step: number; readonly data: Buffer }) => void;
      readonly limits?: ImageLimits;
    },
  ): Promise<AnimateRun>;
}
