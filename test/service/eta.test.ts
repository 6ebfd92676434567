import { describe, expect, it } from 'vitest';
import { EtaEstimator, queuedEta } from '../../src/service/eta.ts';

function measured(): EtaEstimator {
  const eta = new EtaEstimator();
  eta.recordStep(100, 2); // 50 ms per step and frame
  eta.recordJob(1000, 800, 2); // 100 ms overhead per frame
  return eta;
}

describe('queued job estimates', () => {
  const shape = { frames: 2, steps: 8 }; // 2 × (8 × 50 + 100) = 1000 ms

  it('is unknown before anything was measured', () => {
    expect(queuedEta(new EtaEstimator(), [], [], shape, 1)).toBeNull();
  });

  it('starts after the running job and the jobs ahead, then adds its own run', () => {
    const running = [{ shape, progress: { step: 4, steps: 8, chunk: 0, chunks: 0 } }];
    const e = queuedEta(measured(), running, [shape, shape], shape, 1)!;
    // running: 2 × 4 × 50 + 200 = 600 ms left; two ahead: 2000 ms; own: 1000 ms
    expect(e).toEqual({ start_s: 2.6, done_s: 3.6 });
  });

  it('shares the waiting work over the slots', () => {
    const one = queuedEta(measured(), [], [shape, shape, shape, shape], shape, 1)!;
    const two = queuedEta(measured(), [], [shape, shape, shape, shape], shape, 2)!;
    expect(one.start_s).toBe(4);
    expect(two.start_s).toBe(2);
    expect(two.done_s).toBe(3);
  });

  it('has no estimate without a slot (no worker alive)', () => {
    expect(queuedEta(measured(), [], [], shape, 0)).toBeNull();
  });

  it('says a job at the head of an idle queue starts now', () => {
    expect(queuedEta(measured(), [], [], shape, 1)).toEqual({ start_s: 0, done_s: 1 });
  });
});
