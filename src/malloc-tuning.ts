/**
 * Imported first by every entry point (the sidecar, the CLI, the scale worker, bench and parity): on
 * Linux it starts the process again at once, as the same process (same pid, `process.execve`), with
 * glibc's mmap threshold fixed at 4 MiB (`MALLOC_MMAP_THRESHOLD_`, which glibc reads only at start).
 *
 * Why: glibc raises its threshold each time a mapped block is freed (up to 32 MiB), so once a model
 * session has been released, the weights of the next one it loads land on the heap, and releasing that
 * session keeps the memory in the process. On the CPU the engine unloads CLIP and the VAE encoder and
 * decoder after their stage (engine/src/memory-plan.ts), which only gives memory back with the threshold
 * fixed. Measured on SVD-XT at 1024×576, 2 frames: a peak of 12,358 MiB without it, 11,016 MiB with it
 * (bench/results/). A threshold the user sets is kept; the children the process starts get neither.
 */
import { forgetMallocTuning, mallocRelaunchEnv } from './config.ts';

const env = mallocRelaunchEnv();
if (env && typeof process.execve === 'function') {
  try {
    process.execve(process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], env);
  } catch {
    // Not possible here (a sandbox without execve): run on with glibc's defaults.
  }
}
forgetMallocTuning();
