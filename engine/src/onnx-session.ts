/**
 * A model part's InferenceSession, with its input and output names and dims read from the session.
 * Every run checks its feeds against them first; on a mismatch it reports the name, type and dims of
 * every input, which is the best debugging aid ONNX has.
 *
 * A session can be unloaded between uses and comes back on its next run (or on `preload()`): on the
 * CPU that is the only way to give its memory back, because onnxruntime's CPU arena keeps its high-water
 * mark for the session's life, and the Node binding drops the run option that would shrink it
 * (`memory.enable_memory_arena_shrinkage`: its `ParseRunOptions` reads only the log fields and the tag).
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
  #ort: OrtModule;
  #open: () => Promise<Ort.InferenceSession>;
  /** The loaded session, or the load under way; undefined while unloaded. */
  #session: Promise<Ort.InferenceSession> | undefined;
  #loaded = false;
  /** The run in progress (settled), so that unloading never releases a session under a run. */
  #running: Promise<unknown> = Promise.resolve();

  private constructor(
    ort: OrtModule,
    part: SessionPart,
    session: Ort.InferenceSession,
    open: () => Promise<Ort.InferenceSession>,
    options: Ort.InferenceSession.SessionOptions,
  ) {
    this.#ort = ort;
    this.part = part;
    this.#open = open;
    this.#session = Promise.resolve(session);
    this.#loaded = true;
    this.arena = options.enableCpuMemArena === true;
    this.memPattern = options.enableMemPattern === true;
    this.inputs = specs(session.inputNames, session.inputMetadata);
    this.outputs = specs(session.outputNames, session.outputMetadata);
  }

  static async create(
    ort: OrtModule,
    part: SessionPart,
    file: string,
    options: Ort.InferenceSession.SessionOptions,
  ): Promise<ModelSession> {
    const open = () => ort.InferenceSession.create(file, options);
    return new ModelSession(ort, part, await open(), open, options);
  }

  /** Whether the session is in memory now (false while unloaded or while it loads again). */
  get loaded(): boolean {
    return this.#loaded;
  }

  /**
   * Gives the session's weights and arena back; the next run (or `preload()`) creates it again from
   * the same file and options. Waits for a load under way first.
   */
  async unload(): Promise<void> {
    const pending = this.#session;
    this.#session = undefined;
    this.#loaded = false;
    const session = await pending?.catch(() => undefined);
    await this.#running;
    await session?.release();
  }

  /**
   * Starts loading an unloaded session, so that its next run need not wait. A failure is not thrown
   * here: the session stays unloaded and the next run tries again, and reports it.
   */
  preload(): void {
    if (this.#session) return;
    const loading = this.#open().then((session) => {
      if (this.#session === loading) this.#loaded = true;
      return session;
    });
    this.#session = loading;
    loading.catch(() => {
      if (this.#session === loading) this.#session = undefined;
    });
  }

  async #ready(): Promise<Ort.InferenceSession> {
    this.preload();
    return await this.#session!;
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
   * the first output as float32. An unloaded session is loaded again first.
   */
  async run(feeds: Readonly<Record<string, Feed>>): Promise<FloatTensor> {
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
    const session = await this.#ready();
    const running = session.run(ortFeeds);
    this.#running = running.catch(() => undefined);
    const results = await running;
    const out = results[this.outputs[0]!.name]!;
    const value = { data: toFloat32(out), dims: out.dims.slice() };
    for (const t of Object.values(results)) t.dispose();
    return value;
  }

  /** For good: the same as `unload()`, said where the session is not meant to come back. */
  async release(): Promise<void> {
    await this.unload();
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
