/**
 * A model part's InferenceSession, created once, with its input and output names and dims read from
 * the session. Every run checks its feeds against them first; on a mismatch it reports the name,
 * type and dims of every input, which is the best debugging aid ONNX has.
 */
import type * as Ort from 'onnxruntime-node';
import { EngineError } from './errors.ts';
import type { SessionPart } from './model-info.ts';
import type { OrtModule } from './runtime.ts';

export interface TensorSpec {
  readonly name: string;
  readonly type: string;
  /** Dims as declared: numbers for static axes, names or -1 for dynamic ones. */
  readonly shape: readonly (number | string)[];
}

export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** A token-id feed (the text encoder's `input_ids`). */
export interface Int64Tensor {
  readonly data: BigInt64Array;
  readonly dims: readonly number[];
}

type Feed = FloatTensor | Int64Tensor;

export class ModelSession {
  readonly part: SessionPart;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Whether the session was created with onnxruntime's CPU memory arena. */
  readonly arena: boolean;
  /** Whether it pre-plans its buffers (onnxruntime's memory pattern). */
  readonly memPattern: boolean;
  #session: Ort.InferenceSession;
  #ort: OrtModule;

  constructor(
    ort: OrtModule,
    part: SessionPart,
    session: Ort.InferenceSession,
    arena = false,
    memPattern = false,
  ) {
    this.#ort = ort;
    this.part = part;
    this.#session = session;
    this.arena = arena;
    this.memPattern = memPattern;
    this.inputs = specs(session.inputNames, session.inputMetadata);
    this.outputs = specs(session.outputNames, session.outputMetadata);
  }

  static async create(
    ort: OrtModule,
    part: SessionPart,
    file: string,
    options: Ort.InferenceSession.SessionOptions,
  ): Promise<ModelSession> {
    const session = await ort.InferenceSession.create(file, options);
    return new ModelSession(
      ort,
      part,
      session,
      options.enableCpuMemArena === true,
      options.enableMemPattern === true,
    );
  }

  /** The input whose rank is `rank` (and, if given, whose name matches). Names differ between exporters; ranks don't. */
  input(rank: number, preferredName?: string): TensorSpec {
    const byName = preferredName ? this.inputs.find((i) => i.name === preferredName) : undefined;
    const found = byName ?? this.inputs.find((i) => i.shape.length === rank);
    if (!found)
      throw new EngineError(
        'model_error',
        `${this.part}: no input of rank ${rank} (${describe(this.inputs)})`,
      );
    return found;
  }

  /** Static size of a declared axis, or undefined if that axis is dynamic. */
  static staticDim(spec: TensorSpec, axis: number): number | undefined {
    const d = spec.shape[axis];
    return typeof d === 'number' && d > 0 ? d : undefined;
  }

  /**
   * Runs with float32 feeds (converted to fp16 where the model wants it) or int64 token ids, and returns
   * the first output as float32. `release`: the last call of a stage: the CPU arena gives back what this
   * run left unused, so the next stage does not stack its peak on this one's.
   */
  async run(feeds: Readonly<Record<string, Feed>>, release = false): Promise<FloatTensor> {
    const ortFeeds: Record<string, Ort.Tensor> = {};
    for (const spec of this.inputs) {
      const feed = feeds[spec.name];
      if (!feed) throw this.#feedError(feeds, `missing input "${spec.name}"`);
      if (
        feed.dims.length !== spec.shape.length ||
        spec.shape.some((d, i) => typeof d === 'number' && d > 0 && d !== feed.dims[i])
      ) {
        throw this.#feedError(
          feeds,
          `input "${spec.name}" has dims [${feed.dims}] but the model expects [${spec.shape}]`,
        );
      }
      ortFeeds[spec.name] = this.#toOrt(feed, spec.type);
    }
    const results = await this.#session.run(
      ortFeeds,
      release && this.arena ? { extra: { memory: { enable_memory_arena_shrinkage: 'cpu:0' } } } : {},
    );
    const out = results[this.outputs[0]!.name]!;
    const value = { data: toFloat32(out), dims: out.dims.slice() };
    for (const t of Object.values(results)) t.dispose();
    return value;
  }

  async release(): Promise<void> {
    await this.#session.release();
  }

  #toOrt(feed: Feed, type: string): Ort.Tensor {
    if (feed.data instanceof BigInt64Array) return new this.#ort.Tensor('int64', feed.data, feed.dims);
    if (type === 'float16') {
      const half = Float16Array.from(feed.data);
      return new this.#ort.Tensor(
        'float16',
        new Uint16Array(half.buffer, half.byteOffset, half.length),
        feed.dims,
      );
    }
    return new this.#ort.Tensor('float32', feed.data, feed.dims);
  }

  #feedError(feeds: Readonly<Record<string, Feed>>, problem: string): EngineError {
    const given = Object.entries(feeds)
      .map(([name, t]) => `${name}: ${t.data instanceof BigInt64Array ? 'int64' : 'float32'} [${t.dims}]`)
      .join('; ');
    return new EngineError(
      'model_error',
      `${this.part}: ${problem}. Given: ${given}. Expected: ${describe(this.inputs)}`,
    );
  }
}

function specs(
  names: readonly string[],
  metadata: readonly Ort.InferenceSession.ValueMetadata[] | undefined,
): TensorSpec[] {
  return names.map((name, i) => {
    const m = metadata?.[i] as
      | { isTensor?: boolean; type?: string; shape?: readonly (number | string)[] }
      | undefined;
    return { name, type: m?.type ?? 'float32', shape: m?.shape ?? [] };
  });
}

function describe(specs: readonly TensorSpec[]): string {
  return specs.map((s) => `${s.name}: ${s.type} [${s.shape}]`).join('; ');
}

function toFloat32(t: Ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const d = t.data as unknown as Float16Array | Uint16Array;
    return d instanceof Uint16Array
      ? Float32Array.from(new Float16Array(d.buffer, d.byteOffset, d.length))
      : Float32Array.from(d);
  }
  throw new EngineError('model_error', `unsupported output type ${t.type}`);
}
