/**
 * The sessions a job runs once (CLIP, the VAE encoder and decoder) give their memory back on the CPU:
 * each is unloaded after its stage, and all three come back after the decode, so the next job finds
 * them loaded. The memory itself is measured by `npm run bench:peer` on SVD-XT (bench/results/).
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CanceledError } from '../../engine/src/errors.ts';
import { type OnceUsedSessions, runPipeline, SvdEngine } from '../../engine/src/index.ts';
import { planMemory } from '../../engine/src/memory-plan.ts';
import { BUNDLED_MODEL_DIR } from '../../engine/src/model-info.ts';
import { ModelSession } from '../../engine/src/onnx-session.ts';
import { loadImage } from '../../engine/src/preprocess.ts';
import { loadOrt, sessionOptions } from '../../engine/src/runtime.ts';

let engine: SvdEngine;
let rgb: Uint8Array;
const width = 128;
const height = 64;
const picture = readFileSync('test/fixtures/case_public/input.png');

beforeAll(async () => {
  engine = await SvdEngine.load({ device: 'cpu' });
  rgb = (await loadImage(picture, { width, height })).rgb;
});
afterAll(() => engine.release());

const onceUsed = () => {
  const { imageEncoder, vaeEncoder, vaeDecoder } = engine.sessions;
  return { imageEncoder, vaeEncoder, vaeDecoder };
};
const loadedNow = () => Object.values(onceUsed()).map((s) => s.loaded);
const allLoaded = () =>
  vi.waitFor(() => expect(loadedNow()).toEqual([true, true, true]), { timeout: 20_000 });

async function decoded(mode: OnceUsedSessions, signal?: AbortSignal): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  await runPipeline(engine.model, engine.sessions, {
    rgb,
    width,
    height,
    options: engine.resolveOptions({ seed: 5, frames: 3, steps: 2 }),
    onceUsed: mode,
    signal,
    onFrames: (chunk) => {
      out.push(chunk.slice());
    },
  });
  return out;
}

/** Records, when `target` runs, whether each once-used session is loaded. */
function loadedWhen(target: ModelSession): boolean[][] {
  const seen: boolean[][] = [];
  const original = target.run.bind(target);
  target.run = (feeds) => {
    seen.push(loadedNow());
    return original(feeds);
  };
  return seen;
}

describe('once-used sessions', () => {
  it('unloads CLIP and the VAE encoder before the UNet, and the decoder after the decode; all three come back', async () => {
    await allLoaded();
    const unet = engine.sessions.unet;
    const decoder = engine.sessions.vaeDecoder;
    const atUnet = loadedWhen(unet);
    const atDecode = loadedWhen(decoder);
    const unloads: string[] = [];
    for (const [name, s] of Object.entries(onceUsed())) {
      const original = s.unload.bind(s);
      s.unload = () => {
        if (s.loaded) unloads.push(name);
        return original();
      };
    }
    try {
      await decoded('unload');
    } finally {
      for (const s of [unet, decoder, ...Object.values(onceUsed())]) {
        // Back to the prototype's methods.
        delete (s as { run?: unknown }).run;
        delete (s as { unload?: unknown }).unload;
      }
    }
    // [CLIP, VAE encoder, VAE decoder] loaded? CLIP and the VAE encoder are gone while the UNet runs.
    expect(atUnet[0]).toEqual([false, false, true]);
    expect(atDecode[0]).toEqual([false, false, true]);
    expect(unloads).toEqual(['imageEncoder', 'vaeEncoder', 'vaeDecoder']);
    await allLoaded();
  });

  it('gives the same frames as keeping every session loaded, job after job', async () => {
    const kept = await decoded('keep');
    expect(await decoded('unload')).toEqual(kept);
    // The second job runs on the sessions loaded again after the first.
    expect(await decoded('unload')).toEqual(kept);
  });

  it('a canceled job gives the memory back too, and the next job runs', async () => {
    await allLoaded();
    const abort = new AbortController();
    const unet = engine.sessions.unet;
    const original = unet.run.bind(unet);
    unet.run = async (feeds) => {
      const out = await original(feeds);
      abort.abort();
      return out;
    };
    try {
      await expect(decoded('unload', abort.signal)).rejects.toBeInstanceOf(CanceledError);
    } finally {
      delete (unet as { run?: unknown }).run;
    }
    await allLoaded();
    expect((await decoded('unload')).length).toBeGreaterThan(0);
  });

  it('for the last job (the CLI) unloads without loading again', async () => {
    const result = await engine.animate(picture, engine.resolveOptions({ frames: 2, steps: 1 }), {
      outPath: '/dev/null',
      skipVideo: true,
      lastJob: true,
    });
    expect(result.plan.unloadOnceUsed).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(loadedNow()).toEqual([false, false, false]);
    // A job after all still works: each session loads on its first run.
    await engine.animate(picture, engine.resolveOptions({ frames: 2, steps: 1 }), {
      outPath: '/dev/null',
      skipVideo: true,
    });
    await allLoaded();
  });

  it('is the CPU plan; CUDA keeps every session loaded', () => {
    const job = {
      budgetBytes: 24 * 2 ** 30,
      weightBytes: 9e9,
      frames: 2,
      width: 1024,
      height: 576,
      guided: true,
    };
    expect(planMemory({ ...job, provider: 'cpu' }).unloadOnceUsed).toBe(true);
    expect(planMemory({ ...job, provider: 'cuda' }).unloadOnceUsed).toBe(false);
  });
});

describe('ModelSession.unload', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sm-session-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const vaeEncoder = async (file: string) =>
    ModelSession.create(await loadOrt(), 'vae_encoder', file, sessionOptions('cpu'));
  const feeds = (s: ModelSession) => {
    const input = s.input(4);
    return { [input.name]: { data: new Float32Array(3 * 64 * 64).fill(0.25), dims: [1, 3, 64, 64] } };
  };

  it('loads again on the next run, with the same results', async () => {
    const s = await vaeEncoder(path.join(BUNDLED_MODEL_DIR, 'vae_encoder.onnx'));
    const before = await s.run(feeds(s));
    await s.unload();
    expect(s.loaded).toBe(false);
    expect(await s.run(feeds(s))).toEqual(before);
    expect(s.loaded).toBe(true);
    await s.release();
  });

  it('waits for a run under way before releasing the session', async () => {
    const s = await vaeEncoder(path.join(BUNDLED_MODEL_DIR, 'vae_encoder.onnx'));
    const running = s.run(feeds(s));
    await s.unload();
    expect((await running).data.length).toBeGreaterThan(0);
  });

  it('a failed load in the background is reported by the next run, and a later run tries again', async () => {
    const file = path.join(dir, 'vae_encoder.onnx');
    copyFileSync(path.join(BUNDLED_MODEL_DIR, 'vae_encoder.onnx'), file);
    const s = await vaeEncoder(file);
    await s.unload();
    rmSync(file);
    s.preload(); // fails in the background: not thrown here
    await expect(s.run(feeds(s))).rejects.toThrow(/vae_encoder\.onnx|No such file|Load model/i);
    expect(s.loaded).toBe(false);
    copyFileSync(path.join(BUNDLED_MODEL_DIR, 'vae_encoder.onnx'), file);
    expect((await s.run(feeds(s))).data.length).toBeGreaterThan(0);
    await s.release();
  });
});
