/**
 * How a job fits a memory budget: the VAE decode chunk and whether the two classifier-free guidance
 * halves run as one batch-2 UNet call or as two batch-1 calls (the same numbers, half the activations).
 *
 * The budget is SVD_MEMORY_BUDGET_GB when set (read by the app's config), else the GPU's memory on
 * CUDA, else the machine's. The costs are linear in the pixel count, measured on SVD-XT at 1024×576 on
 * the CPU with the memory arena on (bench/results/variants/, README "Real models"), with a margin; the
 * weights are the model files' size. On CUDA the same numbers are an estimate (fp16 needs less).
 *
 * On the CPU the decode is compute-bound: two frames per call took 28.7 s a frame, one frame 24-42 s
 * (decode-bench, load-dependent), while each call's memory grows with its frames (5.8 GB for one
 * frame, 8.7 GB for two). So the CPU decodes at most {@link CPU_DECODE_PIXELS} pixels per call: one
 * 1024×576 frame, the leanest plan at no cost in time.
 *
 * On the CPU the sessions a job runs once (CLIP, the VAE encoder and decoder) are unloaded after their
 * stage and loaded again after the decode: onnxruntime's CPU arena never gives back what a run grew,
 * so otherwise the VAE encoder's 1.1 GB and CLIP's 2.5 GB of weights stay through the UNet and the
 * decode, and the decoder's 3.2 GB stays after it. Measured on SVD-XT at 1024×576: loading them again
 * takes 0.2 s (VAE encoder), 0.4–1.1 s (decoder) and 5 s (CLIP), in the background after a job.
 */
import { execFileSync } from 'node:child_process';
import { totalmem } from 'node:os';
import type { Provider } from './runtime.ts';

/**
 * Extra resident bytes per UNet batch row, per frame, per latent pixel (fused attention, CPU arena):
 * measured 43,300 for 2 rows × 14 frames × 72×128 (10.4 GiB over the weights; 2 frames: 19,000, 0.65
 * GiB), with a margin. The arena keeps them through the decode.
 */
export const UNET_BYTES_PER_LATENT_PIXEL = 48_000;
/**
 * A decode call of n frames holds DECODE_BYTES_PER_PIXEL × pixels × (n + 1) over the weights (temporal
 * VAE decoder, fused attention, CPU arena): measured 5.5 GB for 1 frame and 8.4 GB for 2 at 1024×576
 * (4,700 and 4,750), with a margin.
 */
export const DECODE_BYTES_PER_PIXEL = 5_200;
/** The most pixels the CPU decodes per call: one 1024×576 frame (see above). */
export const CPU_DECODE_PIXELS = 1024 * 576;
/** What the process needs besides the model and the stage being run: runtime, buffers, frames. */
export const BASE_BYTES = 1.5 * 2 ** 30;

export interface MemoryPlanInput {
  readonly provider: Provider;
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
  /** Unload CLIP and the VAE encoder and decoder after their stage (the CPU; see above). */
  readonly unloadOnceUsed: boolean;
  readonly budgetBytes: number;
}

export function planMemory(input: MemoryPlanInput): MemoryPlan {
  const free = input.budgetBytes - input.weightBytes - BASE_BYTES;
  const unetRow = UNET_BYTES_PER_LATENT_PIXEL * input.frames * (input.width / 8) * (input.height / 8);
  const sequentialGuidance = input.guided && 2 * unetRow > free;
  const pixels = input.width * input.height;
  const fit = Math.floor(free / (DECODE_BYTES_PER_PIXEL * pixels)) - 1;
  const cap = input.provider === 'cpu' ? Math.floor(CPU_DECODE_PIXELS / pixels) : input.frames;
  const decodeChunk = Math.max(1, Math.min(input.frames, input.decodeChunkOverride ?? Math.min(fit, cap)));
  const unloadOnceUsed = input.provider === 'cpu';
  return { decodeChunk, sequentialGuidance, unloadOnceUsed, budgetBytes: input.budgetBytes };
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
