/**
 * The memory plan: the decode chunk and the guidance batching follow the budget; SVD_DECODE_CHUNK wins.
 */
import { describe, expect, it } from 'vitest';
import {
  BASE_BYTES,
  DECODE_BYTES_PER_PIXEL,
  defaultBudgetBytes,
  planMemory,
  UNET_BYTES_PER_LATENT_PIXEL,
} from '../../engine/src/memory-plan.ts';

const GiB = 2 ** 30;
// SVD-XT fp32: 8.8 GB of weights; a 1024×576 job.
const job = { weightBytes: 8.8e9, width: 1024, height: 576, guided: true };

describe('planMemory', () => {
  it('decodes all frames at once and batches both guidance halves when memory is plentiful', () => {
    const plan = planMemory({ ...job, budgetBytes: 141 * GiB, frames: 14 });
    expect(plan).toMatchObject({ decodeChunk: 14, sequentialGuidance: false });
  });

  it('on a 24 GB machine, 14 frames decode in chunks and the guidance halves run one after the other', () => {
    const plan = planMemory({ ...job, budgetBytes: 24 * GiB, frames: 14 });
    const free = 24 * GiB - job.weightBytes - BASE_BYTES;
    expect(plan.decodeChunk).toBe(Math.floor(free / (DECODE_BYTES_PER_PIXEL * 1024 * 576)));
    expect(plan.decodeChunk).toBeGreaterThanOrEqual(1);
    expect(plan.decodeChunk).toBeLessThan(14);
    expect(plan.sequentialGuidance).toBe(2 * UNET_BYTES_PER_LATENT_PIXEL * 14 * 128 * 72 > free);
  });

  it('a smaller budget never gives a bigger chunk, and the chunk is at least 1 frame', () => {
    let last = Number.POSITIVE_INFINITY;
    for (const gb of [200, 64, 32, 24, 16, 12, 9]) {
      const { decodeChunk } = planMemory({ ...job, budgetBytes: gb * GiB, frames: 25 });
      expect(decodeChunk).toBeLessThanOrEqual(last);
      expect(decodeChunk).toBeGreaterThanOrEqual(1);
      last = decodeChunk;
    }
    expect(last).toBe(1);
  });

  it('never plans sequential guidance for an unguided job', () => {
    expect(planMemory({ ...job, guided: false, budgetBytes: 10 * GiB, frames: 14 }).sequentialGuidance).toBe(
      false,
    );
  });

  it('SVD_DECODE_CHUNK overrides the budget, within 1..frames', () => {
    expect(
      planMemory({ ...job, budgetBytes: 24 * GiB, frames: 14, decodeChunkOverride: 7 }).decodeChunk,
    ).toBe(7);
    expect(planMemory({ ...job, budgetBytes: 24 * GiB, frames: 4, decodeChunkOverride: 8 }).decodeChunk).toBe(
      4,
    );
  });

  it('the default budget on the CPU is the machine memory', async () => {
    const { totalmem } = await import('node:os');
    expect(defaultBudgetBytes('cpu')).toBe(totalmem());
  });
});
