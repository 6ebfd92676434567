/**
 * How a job fits a memory budget: the VAE decode chunk and whether the two classifier-free guidance
 * halves run as one batch-2 UNet call or as two batch-1 calls (the same numbers, half the activations).
 *
 * The budget is SVD_MEMORY_BUDGET_GB when set (read by the app's config), else the GPU's memory on
 * CUDA, else the machine's. The costs are per frame, linear in the pixel count, measured on SVD-XT at
 * 1024×576 on the CPU (README, "Real models") with a margin; the weights are the model files' size.
 */
import { execFileSync } from 'node:child_process';
import { totalmem } from 'node:os';
import type { Provider } from './runtime.ts';

/** Extra resident bytes per UNet batch row, per frame, per latent pixel (fused attention). */
export const UNET_BYTES_PER_LATENT_PIXEL = 24_000;
/** Extra resident bytes per decoded frame, per output pixel (temporal VAE decoder, fused attention). */
export const DECODE_BYTES_PER_PIXEL = 12_000;
/** What the process needs besides the model and the stage being run: runtime, buffers, frames. */
export const BASE_BYTES = 1.5 * 2 ** 30;

export interface MemoryPlanInput {
  readonly budgetBytes: number;
  readonly weightBytes: number;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly guided: boolean;
  /** SVD_DECODE_CHUNK: wins over the budget. */
  readonly decodeChunkOverride?: number;
}

export interface MemoryPlan {
  readonly decodeChunk: number;
  /** Two batch-1 UNet calls per step instead of one batch-2 call. */
  readonly sequentialGuidance: boolean;
  readonly budgetBytes: number;
}

export function planMemory(input: MemoryPlanInput): MemoryPlan {
  const free = input.budgetBytes - input.weightBytes - BASE_BYTES;
  const unetRow = UNET_BYTES_PER_LATENT_PIXEL * input.frames * (input.width / 8) * (input.height / 8);
  const sequentialGuidance = input.guided && 2 * unetRow > free;
  const perFrame = DECODE_BYTES_PER_PIXEL * input.width * input.height;
  const fit = Math.floor(free / perFrame);
  const decodeChunk = Math.max(1, Math.min(input.frames, input.decodeChunkOverride ?? fit));
  return { decodeChunk, sequentialGuidance, budgetBytes: input.budgetBytes };
}

/** The default budget: the GPU's total memory on CUDA (nvidia-smi), else the machine's. */
export function defaultBudgetBytes(provider: Provider, cudaDeviceId = 0): number {
  if (provider === 'cuda') {
    const gpu = gpuMemoryBytes(cudaDeviceId);
    if (gpu !== undefined) return gpu;
  }
  return totalmem();
}

function gpuMemoryBytes(deviceId: number): number | undefined {
  try {
    const out = execFileSync(
      'nvidia-smi',
      ['--query-gpu=memory.total', '--format=csv,noheader,nounits', `--id=${deviceId}`],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 },
    );
    const mib = Number(out.trim().split('\n')[0]);
    return Number.isFinite(mib) && mib > 0 ? mib * 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}
