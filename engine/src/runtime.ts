/**
 * The one module that imports onnxruntime-node. It resolves which copy to load (the installed one,
 * or the one under ORT_CUDA_NODE_MODULES on the device machine) and maps a device setting (the
 * engine's `device` load option) to execution providers.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as Ort from 'onnxruntime-node';
import { DeviceError } from './errors.ts';

export type OrtModule = typeof Ort;
export type Device = 'auto' | 'cuda' | 'cpu';
export type Provider = 'cuda' | 'cpu';

export const DEVICES: readonly Device[] = Object.freeze(['auto', 'cuda', 'cpu']);

export const CUDA_INSTALL_HINT =
  'install the CUDA 12 provider for onnxruntime-node with ' +
  '`ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install`, ' +
  'and have CUDA 12 and cuDNN 9 on the host (see README, "GPUs")';

let cached: Promise<OrtModule> | undefined;

/**
 * The onnxruntime-node package to load: `$ORT_CUDA_NODE_MODULES/onnxruntime-node` when that
 * node_modules folder is set (the device recipe), else the installed one.
 */
function ortPackage(env: NodeJS.ProcessEnv, file = ''): string {
  const dir = env.ORT_CUDA_NODE_MODULES;
  if (dir)
    return createRequire(import.meta.url).resolve(path.join(path.resolve(dir), 'onnxruntime-node', file));
  return createRequire(import.meta.url).resolve(path.posix.join('onnxruntime-node', file));
}

/** Loads onnxruntime-node once (see {@link ortPackage}). */
export function loadOrt(env: NodeJS.ProcessEnv = process.env): Promise<OrtModule> {
  cached ??= import(pathToFileURL(ortPackage(env)).href).then(
    (m) => ((m as { default?: OrtModule }).default ?? m) as OrtModule,
  );
  return cached;
}

/**
 * Why CUDA cannot be used, without asking onnxruntime (which prints native errors when the provider
 * library is missing), or undefined when the provider library is installed and worth trying.
 */
export function cudaUnavailableReason(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined;
  let pkg: string;
  try {
    pkg = path.dirname(ortPackage(env, 'package.json'));
  } catch {
    return undefined;
  }
  const lib = path.join(pkg, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so');
  return existsSync(lib) ? undefined : `the CUDA provider library is not installed (${lib} is missing)`;
}

export function parseDevice(value: string | undefined): Device {
  const device = (value ?? 'auto').trim().toLowerCase();
  if (!(DEVICES as readonly string[]).includes(device)) {
    throw new DeviceError(`Unsupported device: "${value}". Should be one of: ${DEVICES.join(', ')}.`);
  }
  return device as Device;
}

export interface SessionTuning {
  /**
   * onnxruntime's CPU memory arena (default on). Off, every large buffer is mapped and faulted in
   * afresh on each call: measured on SVD-XT's VAE decoder at 1024×576 (decode-bench, 2 cores), one
   * frame took 65 s instead of 22 s, for 2.8 GB instead of 3.9 GB peak.
   */
  readonly cpuArena?: boolean;
  /**
   * The memory pattern (default: as the arena): one block pre-planned per input shape. The engine
   * chooses it per part (engine.ts `memPatternFor`: off on the CPU). The VAE decoder measured at
   * 1024×576: one frame 22.4 s and 3.9 GB without, 22.3 s and 5.8 GB with.
   */
  readonly memPattern?: boolean;
  /** Intra-op threads; default onnxruntime's (one per physical core). */
  readonly threads?: number;
  /** The CUDA device the sessions run on (the engine's `cudaDeviceId` load option); default 0. */
  readonly cudaDeviceId?: number;
}

/** Session options for a provider. CUDA tuning that the Node binding exposes lives here. */
export function sessionOptions(
  provider: Provider,
  tuning: SessionTuning = {},
): Ort.InferenceSession.SessionOptions {
  const arena = tuning.cpuArena ?? true;
  return {
    executionProviders:
      provider === 'cuda' ? [{ name: 'cuda', deviceId: tuning.cudaDeviceId ?? 0 }] : ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    enableCpuMemArena: arena,
    // The memory pattern pre-plans one block per input shape inside the arena.
    enableMemPattern: arena && (tuning.memPattern ?? true),
    ...(tuning.threads ? { intraOpNumThreads: tuning.threads } : {}),
    logSeverityLevel: 3,
  };
}

/** Providers to try, in order, for a device setting. */
export function providerCandidates(device: Device): readonly Provider[] {
  return device === 'auto' ? ['cuda', 'cpu'] : [device];
}
