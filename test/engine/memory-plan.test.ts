/**
 * The memory plan: the decode chunk and the guidance batching follow the budget; SVD_DECODE_CHUNK wins.
 */
import { describe, expect, it } from 'vitest';
import {
  BASE_BYTES,
  CPU_DECODE_PIXELS,
  DECODE_BYTES_PER_PIXEL,
  defaultBudgetBytes,
  planMemory,
  UNET_BYTES_PER_LATENT_PIXEL,
} from '../../engine/src/memory-plan.ts';

const GiB = 2 ** 30;
// SVD-XT fp32: 8.8 GB of weights; a 1024×576 job. The budget rules are the GPU's; the CPU adds a cap.
const job = { provider: 'cuda' as const, weightBytes: 8.8e9, width: 1024, height: 576, guided: true };

describe('planMemory', () => {
  it('decodes all frames at once and batches both guidance halves when memory is plentiful', () => {
    const plan = planMemory({ ...job, budgetBytes: 141 * GiB, frames: 14 });
    expect(plan).toMatchObject({ decodeChunk: 14, sequentialGuidance: false });
  });

  it('with 24 GB, 14 frames decode in chunks and the guidance halves run one after the other if needed', () => {
    const plan = planMemory({ ...job, budgetBytes: 24 * GiB, frames: 14 });
    const free = 24 * GiB - job.weightBytes - BASE_BYTES;
    // A call of n frames holds DECODE_BYTES_PER_PIXEL × pixels × (n + 1).
    expect(plan.decodeChunk).toBe(Math.floor(free / (DECODE_BYTES_PER_PIXEL * 1024 * 576)) - 1);
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

  it('on the CPU, decodes one 1024×576 frame per call whatever the budget (as fast per frame, leanest)', () => {
    for (const gb of [24, 64, 141]) {
      expect(planMemory({ ...job, provider: 'cpu', budgetBytes: gb * GiB, frames: 14 }).decodeChunk).toBe(1);
      expect(
        planMemory({ ...job, provider: 'cuda', budgetBytes: gb * GiB, frames: 14 }).decodeChunk,
      ).toBeGreaterThan(1);
    }
    // The cap is in pixels: a small picture still decodes several frames per call.
    const small = planMemory({
      ...job,
      provider: 'cpu',
      width: 256,
      height: 144,
      budgetBytes: 24 * GiB,
      frames: 14,
    });
    expect(small.decodeChunk).toBe(Math.min(14, CPU_DECODE_PIXELS / (256 * 144)));
  });

  it('the default 2-frame job on a 24 GB CPU: one frame per decode call, both guidance halves in one UNet call', () => {
    const plan = planMemory({ ...job, provider: 'cpu', budgetBytes: 24 * GiB, frames: 2 });
    expect(plan).toMatchObject({ decodeChunk: 1, sequentialGuidance: false });
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
