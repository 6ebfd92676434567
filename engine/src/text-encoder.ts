/**
 * The CLIP text tower of the experimental steer: tokenizes a prompt with the model folder's
 * `tokenizer.json` (CLIP's byte-level BPE, run by @huggingface/tokenizers) and embeds it with
 * `text_encoder.onnx`, as open_clip does: <start>, tokens, <end>, padded with 0 to the context length,
 * truncated with <end> last.
 */
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import type * as Ort from 'onnxruntime-node';
import { ModelError } from './errors.ts';
import type { TextEncoderInfo } from './model-info.ts';
import { ModelSession } from './onnx-session.ts';
import type { OrtModule } from './runtime.ts';

export class ClipTextEncoder {
  readonly session: ModelSession;
  readonly contextLength: number;
  #tokenizer: Tokenizer;
  #end: number;

  private constructor(session: ModelSession, tokenizer: Tokenizer, contextLength: number, end: number) {
    this.session = session;
    this.#tokenizer = tokenizer;
    this.contextLength = contextLength;
    this.#end = end;
  }

  static async create(
    ort: OrtModule,
    info: TextEncoderInfo,
    options: Ort.InferenceSession.SessionOptions,
  ): Promise<ClipTextEncoder> {
    const tokenizer = loadTokenizer(info);
    const end = tokenizer.encode('').ids.at(-1);
    if (end === undefined) throw new ModelError(`${info.tokenizer}: the tokenizer adds no <end> token`);
    const session = await ModelSession.create(ort, 'text_encoder', info.file, options);
    return new ClipTextEncoder(session, tokenizer, info.contextLength, end);
  }

  /** The prompt's ids: <start>, tokens, <end>; at most the context length (then <end> is last). */
  tokenize(prompt: string): number[] {
    const ids = this.#tokenizer.encode(prompt).ids;
    return ids.length <= this.contextLength ? ids : [...ids.slice(0, this.contextLength - 1), this.#end];
  }

  /** The prompt's text embedding [D], projected, not normalised. */
  async embed(prompt: string): Promise<Float32Array> {
    const ids = new BigInt64Array(this.contextLength);
    this.tokenize(prompt).forEach((id, i) => {
      ids[i] = BigInt(id);
    });
    const input = this.session.inputs[0]!;
    const out = await this.session.run({ [input.name]: { data: ids, dims: [1, this.contextLength] } });
    return out.data;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function loadTokenizer(info: TextEncoderInfo): Tokenizer {
  try {
    return new Tokenizer(
      JSON.parse(readFileSync(info.tokenizer, 'utf8')),
      JSON.parse(readFileSync(info.tokenizerConfig, 'utf8')),
    );
  } catch (err) {
    throw new ModelError(`cannot read the tokenizer ${info.tokenizer}: ${String(err)}`, { cause: err });
  }
}
