/**
 * The run of one job that both services share (src/service/run-job.ts), with a scripted engine
 * and a sink that records what it was told: progress, the outcome for each way a run ends, the
 * failure's reason for users, the metrics, and the output file removed when the run did not succeed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EngineError, loadModelInfo, resolveOptions } from '@stillmotion/engine';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.ts';
import type { AnimateRun, EnginePort } from '../../src/service/engine-port.ts';
import { JobAbort } from '../../src/service/job-lifecycle.ts';
import { startProgress } from '../../src/service/job-view.ts';
import { ServiceMetrics } from '../../src/service/metrics.ts';
import { type RunJob, type RunSink, runJob } from '../../src/service/run-job.ts';

const model = loadModelInfo();
const options = resolveOptions({ frames: 2, steps: 2, seed: 1 }, model);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

type Animate = EnginePort['animate'];

/** An engine that reports two steps, one decode chunk and the encoder, writes the file, then does `finish`. */
function engine(finish: (ctx: Parameters<Animate>[2]) => Promise<AnimateRun>): EnginePort {
  return {
    model,
    provider: 'cpu',
    warmup: async () => {},
    animate: async (_image, _options, ctx) => {
      ctx.onProgress?.({ stage: 'denoise', step: 1, steps: 2, stepMs: 10 });
      ctx.onPreview?.({ step: 1, data: Buffer.from('webp') });
      ctx.onProgress?.({ stage: 'denoise', step: 2, steps: 2, stepMs: 12 });
      ctx.onProgress?.({ stage: 'decode', chunk: 1, chunks: 1 });
      ctx.onProgress?.({ stage: 'video' });
      writeFileSync(ctx.outPath, 'video');
      return finish(ctx);
    },
  };
}

const done = async (ctx: Parameters<Animate>[2]): Promise<AnimateRun> => ({
  path: ctx.outPath,
  bytes: 5,
  seed: 1,
  timings: { total_ms: 40, unet_step_ms: [10, 12] },
});

/** A sink that records every call. */
function recorder({ stored }: { stored: number | undefined | Error } = { stored: 5 }) {
  const calls: string[] = [];
  const steps: number[] = [];
  const sink: RunSink = {
    progress: (live) => {
      steps.push(live.progress.step);
      if (live.encoding) calls.push('encoding');
    },
    preview: (step) => calls.push(`preview ${step}`),
    settle: async () => {
      calls.push('settle');
    },
    succeeded: async (_out, run) => {
      calls.push(`succeeded ${run.stepMs.join(',')}`);
      if (stored instanceof Error) throw stored;
      return stored;
    },
    putBack: async () => {
      calls.push('put back');
    },
    canceled: async () => {
      calls.push('canceled');
    },
    failed: async (message, code) => {
      calls.push(`failed ${code}: ${message}`);
    },
  };
  return { sink, calls, steps };
}

function job(e: EnginePort, signal = new AbortController().signal, metrics?: ServiceMetrics): RunJob {
  const dir = mkdtempSync(path.join(tmpdir(), 'stillmotion-run-'));
  dirs.push(dir);
  return {
    id: 'job1',
    engine: e,
    options,
    image: () => Buffer.from('picture'),
    outPath: path.join(dir, 'job1.mp4'),
    signal,
    live: startProgress(options),
    log: createLogger('silent'),
    metrics,
  };
}

describe('runJob', () => {
  it('reports progress and stores the result, counting it in the metrics', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false });
    const { sink, calls, steps } = recorder();
    const j = job(engine(done), undefined, metrics);
    expect(await runJob(j, sink)).toBe('succeeded');
    expect(steps).toEqual([1, 2, 2, 2]);
    expect(j.live).toEqual({ progress: { step: 2, steps: 2, chunk: 1, chunks: 1 }, encoding: true });
    expect(calls).toEqual(['preview 1', 'encoding', 'settle', 'succeeded 10,12']);
    expect(existsSync(j.outPath)).toBe(true);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/stillmotion_job_duration_seconds_count\{outcome="succeeded"\} 1/);
    expect(text).toMatch(/stillmotion_step_duration_seconds_count 2/);
  });

  it('answers unrecorded, without a success in the metrics, when the store refuses the result', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false });
    const { sink } = recorder({ stored: undefined });
    expect(await runJob(job(engine(done), undefined, metrics), sink)).toBe('unrecorded');
    expect(await metrics.registry.metrics()).not.toMatch(/job_duration_seconds_count\{outcome="succeeded"\}/);
  });

  it('fails, not succeeds, when the store has no room for the result (store_full)', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false });
    const full = new EngineError('store_full', 'the result could not be stored: the job store is full');
    const { sink, calls } = recorder({ stored: full });
    const j = job(engine(done), undefined, metrics);
    expect(await runJob(j, sink)).toBe('failed');
    expect(calls).toEqual([
      'preview 1',
      'encoding',
      'settle',
      'succeeded 10,12',
      'settle',
      `failed store_full: ${full.message}`,
    ]);
    expect(existsSync(j.outPath)).toBe(false);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/stillmotion_job_failures_total\{reason="store_full"\} 1/);
    expect(text).toMatch(/stillmotion_job_duration_seconds_count\{outcome="failed"\} 1/);
    expect(text).not.toMatch(/job_duration_seconds_count\{outcome="succeeded"\}/);
  });

  it('tells each early end apart by the abort reason, and removes the unfinished video', async () => {
    for (const [why, outcome, call] of [
      ['canceled', 'canceled', 'canceled'],
      ['shutdown', 'put_back', 'put back'],
      ['lost', 'lost', undefined],
    ] as const) {
      const abort = new AbortController();
      const { sink, calls } = recorder();
      const j = job(
        engine(async () => {
          abort.abort(new JobAbort(why, 'the job was handed to another worker'));
          throw new EngineError('aborted', 'aborted');
        }),
        abort.signal,
      );
      expect(await runJob(j, sink), why).toBe(outcome);
      expect(
        calls.filter((c) => !['preview 1', 'encoding', 'settle'].includes(c)),
        why,
      ).toEqual(call ? [call] : []);
      expect(existsSync(j.outPath), why).toBe(false);
    }
  });

  it('fails with the reason users read and the code metrics count', async () => {
    const metrics = new ServiceMetrics({ defaultMetrics: false });
    const { sink, calls } = recorder();
    const j = job(
      engine(async () => {
        throw new EngineError('model_error', 'tensor shape [1,4] is not [1,8]');
      }),
      undefined,
      metrics,
    );
    expect(await runJob(j, sink)).toBe('failed');
    expect(calls.at(-1)).toBe(
      'failed model_error: the model failed on this job; try again, or tell the operator job job1',
    );
    expect(await metrics.registry.metrics()).toMatch(
      /stillmotion_job_failures_total\{reason="model_error"\} 1/,
    );
  });

  it('fails a job whose picture is lost before the engine is called', async () => {
    let called = false;
    const { sink, calls } = recorder();
    const j: RunJob = {
      ...job(
        engine(async (ctx) => {
          called = true;
          return done(ctx);
        }),
      ),
      image: () => {
        throw new EngineError('input_missing', 'the uploaded picture was lost');
      },
    };
    expect(await runJob(j, sink)).toBe('failed');
    expect(called).toBe(false);
    expect(calls).toEqual(['settle', 'failed input_missing: the uploaded picture was lost']);
  });
});
