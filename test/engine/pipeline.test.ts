import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arenaFor, LOAD_ORDER, memPatternFor } from '../../engine/src/engine.ts';
import { CanceledError } from '../../engine/src/errors.ts';
import { NormalRng, type ProgressEvent, runPipeline, SvdEngine } from '../../engine/src/index.ts';
import { MODEL_PARTS } from '../../engine/src/model-info.ts';
import { ModelSession } from '../../engine/src/onnx-session.ts';
import { loadImage } from '../../engine/src/preprocess.ts';

let engine: SvdEngine;
let rgb: Uint8Array;
const width = 128;
const height = 64;

beforeAll(async () => {
  engine = await SvdEngine.load({ device: 'cpu' });
  rgb = (await loadImage(readFileSync('test/fixtures/case_public/input.png'), { width, height })).rgb;
});
afterAll(() => engine.release());

async function frames(
  options: Parameters<SvdEngine['resolveOptions']>[0],
  extra: {
    signal?: AbortSignal;
    onProgress?: (e: ProgressEvent) => void;
    decodeChunkSize?: number;
    sequentialGuidance?: boolean;
  } = {},
) {
  const out: Float32Array[] = [];
  await runPipeline(engine.model, engine.sessions, {
    rgb,
    width,
    height,
    options: engine.resolveOptions(options),
    onFrames: (chunk) => {
      out.push(chunk.slice());
    },
    ...extra,
  });
  return Float32Array.from(out.flatMap((c) => [...c]));
}

describe('runPipeline', () => {
  it('is deterministic: the same seed and options give the same frames, another seed different ones', async () => {
    const a = await frames({ seed: 11, frames: 3, steps: 2 });
    const b = await frames({ seed: 11, frames: 3, steps: 2 });
    const c = await frames({ seed: 12, frames: 3, steps: 2 });
    expect(a.length).toBe(3 * width * height * 3);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('reports progress per denoising step and per decoded chunk', async () => {
    const events: ProgressEvent[] = [];
    await frames({ seed: 1, frames: 5, steps: 3 }, { decodeChunkSize: 2, onProgress: (e) => events.push(e) });
    expect(
      events.filter((e) => e.stage === 'denoise').map((e) => (e.stage === 'denoise' ? e.step : 0)),
    ).toEqual([1, 2, 3]);
    expect(
      events
        .filter((e) => e.stage === 'decode')
        .map((e) => (e.stage === 'decode' ? `${e.chunk}/${e.chunks}` : '')),
    ).toEqual(['1/3', '2/3', '3/3']);
  });

  it('stops between steps when the signal aborts', async () => {
    const controller = new AbortController();
    const steps: number[] = [];
    const run = frames(
      { seed: 1, frames: 3, steps: 10 },
      {
        signal: controller.signal,
        onProgress: (e) => {
          if (e.stage === 'denoise') {
            steps.push(e.step);
            if (e.step === 2) controller.abort();
          }
        },
      },
    );
    await expect(run).rejects.toBeInstanceOf(CanceledError);
    expect(steps).toEqual([1, 2]);
  });

  it('runs batch 1 without classifier-free guidance when max guidance ≤ 1, and the result differs from guided', async () => {
    const unguided = await frames({ seed: 3, frames: 2, steps: 2, guidance: '1-1' });
    const guided = await frames({ seed: 3, frames: 2, steps: 2, guidance: '1-3' });
    expect(unguided.every((v) => v >= 0 && v <= 1)).toBe(true);
    expect(unguided).not.toEqual(guided);
  });

  it('decodes in temporal chunks: the chunk size changes the frames, the same chunk size does not', async () => {
    // Temporal layers mix frames only inside a chunk: chunk size 1 and all-at-once must differ, same-size runs must not.
    const all = await frames({ seed: 5, frames: 4, steps: 1 }, { decodeChunkSize: 4 });
    const again = await frames({ seed: 5, frames: 4, steps: 1 }, { decodeChunkSize: 4 });
    const single = await frames({ seed: 5, frames: 4, steps: 1 }, { decodeChunkSize: 1 });
    expect(all).toEqual(again);
    expect(single).not.toEqual(all);
  });
});

describe('runPipeline with the AnimateLCM scheduler', () => {
  it('defaults to 4 steps and draws its step noise (draw 3) from the seed', async () => {
    const lcm = await SvdEngine.load({ modelDir: 'test/fixtures/tiny-animatelcm', device: 'cpu' });
    try {
      const latentSize = 2 * 4 * (height / 8) * (width / 8);
      const noise = {
        noiseAug: new NormalRng(7).randn(3 * width * height),
        initialLatents: new NormalRng(8).randn(latentSize),
      };
      const run = async (model: SvdEngine, seed: number) => {
        const out: Float32Array[] = [];
        const steps: number[] = [];
        await runPipeline(model.model, model.sessions, {
          rgb,
          width,
          height,
          options: model.resolveOptions({ seed, frames: 2 }),
          noise,
          onProgress: (e) => {
            if (e.stage === 'denoise') steps.push(e.step);
          },
          onFrames: (chunk) => {
            out.push(chunk.slice());
          },
        });
        return { frames: Float32Array.from(out.flatMap((c) => [...c])), steps: steps.length };
      };
      const a = await run(lcm, 1);
      expect(a.steps).toBe(4);
      expect((await run(lcm, 1)).frames).toEqual(a.frames);
      // The first two draws are injected: only the step noise still comes from the seed.
      expect((await run(lcm, 2)).frames).not.toEqual(a.frames);
      // Euler takes no third draw: with both draws injected, the seed changes nothing.
      expect((await run(engine, 1)).frames).toEqual((await run(engine, 2)).frames);
    } finally {
      await lcm.release();
    }
  });
});

describe('guidance halves one after the other', () => {
  it('two batch-1 UNet calls give the frames of one batch-2 call', async () => {
    const batched = await frames({ seed: 9, frames: 3, steps: 2, guidance: '1-3' });
    const sequential = await frames(
      { seed: 9, frames: 3, steps: 2, guidance: '1-3' },
      { sequentialGuidance: true },
    );
    let maxDiff = 0;
    for (let k = 0; k < batched.length; k++)
      maxDiff = Math.max(maxDiff, Math.abs(batched[k]! - sequential[k]!));
    expect(maxDiff).toBeLessThanOrEqual(1e-5);
    // And guidance really ran: without it the frames differ.
    const unguided = await frames({ seed: 9, frames: 3, steps: 2, guidance: '1-1' });
    expect(unguided).not.toEqual(sequential);
  });

  it('calls the UNet twice per step with batch 1, instead of once with batch 2', async () => {
    const unet = engine.sessions.unet;
    const batches: number[] = [];
    const original = unet.run.bind(unet);
    unet.run = (feeds) => {
      batches.push(feeds.sample!.dims[0]!);
      return original(feeds);
    };
    try {
      await frames({ seed: 1, frames: 2, steps: 2 }, { sequentialGuidance: true });
      expect(batches).toEqual([1, 1, 1, 1]);
      batches.length = 0;
      await frames({ seed: 1, frames: 2, steps: 2 });
      expect(batches).toEqual([2, 2]);
    } finally {
      unet.run = original;
    }
  });
});

describe('SvdEngine', () => {
  it('warms up at the smallest shape the model takes (64×64, 2 frames, 1 step), not at full size', async () => {
    const unet = engine.sessions.unet;
    const dims: number[][] = [];
    const original = unet.run.bind(unet);
    unet.run = (feeds) => {
      dims.push([...feeds.sample!.dims]);
      return original(feeds);
    };
    try {
      await engine.warmup();
    } finally {
      unet.run = original;
    }
    expect(dims).toEqual([[2, 2, 8, 8, 8]]);
  });

  it('plans each job: the decode chunk and guidance batching come back with the result', async () => {
    const plan = engine.plan(engine.resolveOptions({ frames: 5 }), 128, 64);
    expect(plan.decodeChunk).toBe(5); // the tiny model fits many times over in this machine's memory
    expect(plan.sequentialGuidance).toBe(false);
  });

  it('creates its sessions once and reuses them across jobs', async () => {
    const before = engine.sessions;
    await frames({ seed: 1, frames: 2, steps: 1 });
    expect(engine.sessions).toBe(before);
  });

  it('gives each session the CPU arena its setting names: all, none, or per part', async () => {
    const arenas = (e: SvdEngine) => {
      const { imageEncoder, vaeEncoder, unet, vaeDecoder } = e.sessions;
      return [imageEncoder, vaeEncoder, unet, vaeDecoder].map((m) => m.arena);
    };
    const byPart = await SvdEngine.load({ device: 'cpu', cpuArena: { unet: true, image_encoder: true } });
    const none = await SvdEngine.load({ device: 'cpu', cpuArena: false });
    try {
      expect(arenas(byPart)).toEqual([true, false, true, false]);
      expect(arenas(none)).toEqual([false, false, false, false]);
      expect(arenas(engine)).toEqual(MODEL_PARTS.map((p) => arenaFor(undefined, p)));
      // No session runs with the memory pattern on the CPU (memPatternFor says why); on CUDA all but the decoder.
      const { imageEncoder, vaeEncoder, unet, vaeDecoder } = engine.sessions;
      expect([imageEncoder, vaeEncoder, unet, vaeDecoder].map((m) => m.memPattern)).toEqual([
        false,
        false,
        false,
        false,
      ]);
      expect(MODEL_PARTS.map((p) => memPatternFor(p, 'cuda'))).toEqual(
        MODEL_PARTS.map((p) => p !== 'vae_decoder'),
      );
      expect(none.sessions.unet.memPattern).toBe(false);
    } finally {
      await Promise.all([byPart.release(), none.release()]);
    }
  });

  it('creates the sessions one at a time, the largest weights first, so their load peaks do not stack', async () => {
    const original = ModelSession.create;
    const order: string[] = [];
    let inFlight = 0;
    let most = 0;
    ModelSession.create = async (...args: Parameters<typeof original>) => {
      order.push(args[1]);
      most = Math.max(most, ++inFlight);
      try {
        return await original(...args);
      } finally {
        inFlight--;
      }
    };
    try {
      const e = await SvdEngine.load({ device: 'cpu' });
      await e.release();
    } finally {
      ModelSession.create = original;
    }
    expect(most).toBe(1);
    expect(order).toEqual(['unet', 'image_encoder', 'vae_decoder', 'vae_encoder', 'text_encoder']);
    expect([...LOAD_ORDER].sort()).toEqual([...MODEL_PARTS].sort());
  });

  it('reads input names and dims from the sessions', () => {
    const unet = engine.sessions.unet;
    expect(unet.inputs.map((i) => i.name)).toEqual([
      'sample',
      'timestep',
      'encoder_hidden_states',
      'added_time_ids',
    ]);
    expect(unet.input(5).shape[2]).toBe(8);
  });

  it('falls back from auto to the CPU and says why', async () => {
    const warnings: string[] = [];
    const e = await SvdEngine.load({
      device: 'auto',
      logger: { info() {}, warn: (_o, m) => warnings.push(m ?? '') },
    });
    expect(e.provider).toBe('cpu');
    expect(warnings.join('\n')).toMatch(/CUDA is not usable \(.+\); falling back to the CPU/);
    await e.release();
  });

  it('refuses an explicit cuda that cannot load with what to install', async () => {
    await expect(SvdEngine.load({ device: 'cuda' })).rejects.toThrow(
      /ONNXRUNTIME_NODE_INSTALL=cuda12 .*CUDA 12 and cuDNN 9/,
    );
  });

  it('refuses an unknown device naming the valid ones', async () => {
    await expect(SvdEngine.load({ device: 'tpu' })).rejects.toThrow(
      'Unsupported device: "tpu". Should be one of: auto, cuda, cpu.',
    );
  });
});
