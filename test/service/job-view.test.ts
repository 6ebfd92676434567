/**
 * The view both services shape (src/service/job-view.ts): each state's progress, place and ETA,
 * from a context that says where the store keeps its queue order and live progress.
 */
import { loadModelInfo, resolveOptions } from '@stillmotion/engine';
import { describe, expect, it } from 'vitest';
import { EtaEstimator } from '../../src/service/eta.ts';
import { jobView, type ViewContext, type ViewSource } from '../../src/service/job-view.ts';
import type { JobProgress, JobState } from '../../src/service/types.ts';

const options = resolveOptions({ frames: 2, steps: 4, seed: 3 }, loadModelInfo());

function source(id: string, state: JobState, extra: Partial<ViewSource> = {}): ViewSource {
  return { id, user: 'web:a', state, options, delivered: false, createdAt: 1000, ...extra };
}

/** A store with `queued` waiting and `running` running, one measured step, and live progress for `live`. */
function context(
  jobs: ViewSource[],
  live: Record<string, { progress: JobProgress; encoding: boolean }> = {},
): ViewContext<ViewSource> {
  const eta = new EtaEstimator();
  eta.recordStep(500, 1);
  return {
    queued: jobs.filter((j) => j.state === 'queued').map((j) => j.id),
    running: jobs.filter((j) => j.state === 'running').map((j) => j.id),
    eta,
    slots: 1,
    job: (id) => jobs.find((j) => j.id === id),
    progress: (job) => live[job.id]?.progress ?? { step: 0, steps: job.options.steps, chunk: 0, chunks: 0 },
    encoding: (job) => live[job.id]?.encoding ?? false,
    previewStep: (job) => (job.id === 'run' ? 2 : 0),
  };
}

describe('jobView', () => {
  const run = source('run', 'running');
  const wait1 = source('w1', 'queued');
  const wait2 = source('w2', 'queued', { delivery: { channel: 'c' } });
  const ctx = context([run, wait1, wait2], {
    run: { progress: { step: 2, steps: 4, chunk: 0, chunks: 0 }, encoding: true },
    // Live progress left over for a job that has ended shows nowhere.
    done: { progress: { step: 1, steps: 4, chunk: 0, chunks: 0 }, encoding: true },
  });

  it('shows a running job with its live progress, preview step and remaining time', () => {
    const v = jobView(run, ctx);
    expect(v).toMatchObject({
      state: 'running',
      position: 0,
      encoding: true,
      preview_step: 2,
      format: 'mp4',
    });
    expect(v.progress).toEqual({ step: 2, steps: 4, chunk: 0, chunks: 0 });
    expect(v.eta_s).toBeGreaterThan(0);
  });

  it('places waiting jobs in order, each after the work ahead of it', () => {
    const first = jobView(wait1, ctx);
    const second = jobView(wait2, ctx);
    expect([first.position, second.position]).toEqual([1, 2]);
    expect(second.start_eta_s!).toBeGreaterThan(first.start_eta_s!);
    expect(second.delivery).toEqual({ channel: 'c' });
    expect(first.encoding).toBeUndefined();
  });

  it('shows an ended job as done, whatever live progress remains', () => {
    const v = jobView(source('done', 'succeeded'), ctx);
    expect(v).toMatchObject({ state: 'succeeded', position: 0, eta_s: 0 });
    expect(v.progress).toEqual({ step: 4, steps: 4, chunk: 1, chunks: 1 });
    expect(v.encoding).toBeUndefined();
    const failed = jobView(source('f', 'failed', { error: 'boom', errorCode: 'engine_error' }), ctx);
    expect(failed).toMatchObject({ error: 'boom', error_code: 'engine_error', eta_s: 0 });
    expect(failed.progress).toEqual({ step: 0, steps: 0, chunk: 0, chunks: 0 });
  });
});
