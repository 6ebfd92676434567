"""The text tower of OpenCLIP ViT-H/14 (laion2B), for the experimental prompt steer.

SVD's image encoder is the vision tower of `laion/CLIP-ViT-H-14-laion2B-s32B-b79K`; its text tower embeds
text into the same 1024-d space. This module exports that tower to `text_encoder.onnx` and writes the
tokenizer beside it:

- `text_encoder.onnx`: `input_ids` int64 [B,S] (S = 77: <start>, tokens, <end>, then 0s) → `text_embeds`
  float32 [B,D], projected, not normalised (transformers' CLIPTextModelWithProjection).
- `tokenizer.json` / `tokenizer_config.json`: CLIP's byte-level BPE, built with the `tokenizers` library
  from open_clip's own vocabulary file `bpe_simple_vocab_16e6.txt.gz` (inside the open-clip-torch wheel),
  with the ids open_clip gives.

Used by export_svd.py (`--text-encoder DIR`): DIR is the checkpoint's transformers folder (config.json with a
`text_config`, and its weights); with --random-weights only its config is read.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os

CONTEXT_LENGTH = 77
START, END = '<|startoftext|>', '<|endoftext|>'
# open_clip's pre-tokenizer pattern (its special tokens first), applied after lower-casing.
SPLIT_PATTERN = (r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+")
CHECKPOINT = 'laion/CLIP-ViT-H-14-laion2B-s32B-b79K'
BPE_IN_WHEEL = 'open_clip/bpe_simple_vocab_16e6.txt.gz'


def default_bpe_path() -> str:
    """open_clip's vocabulary file, found without importing open_clip (which needs torchvision)."""
    spec = importlib.util.find_spec('open_clip')
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f'export_svd: the CLIP vocabulary is {BPE_IN_WHEEL} in the open-clip-torch wheel: '
                         'pip install open-clip-torch --no-deps, or pass --bpe-vocab FILE')
    return os.path.join(list(spec.submodule_search_locations)[0], 'bpe_simple_vocab_16e6.txt.gz')


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte → printable character table, which CLIP's vocabulary is written in."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def build_tokenizer(bpe_path: str):
    """CLIP's tokenizer as a `tokenizers.Tokenizer`, with open_clip's vocabulary and ids (49408 tokens)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    lines = gzip.open(bpe_path).read().decode('utf-8').split('\n')
    merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]  # the slice open_clip takes
    chars = list(_bytes_to_unicode().values())
    vocab = chars + [c + '</w>' for c in chars] + [''.join(m) for m in merges] + [START, END]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(vocab)}, merges=merges,
                               end_of_word_suffix='</w>', continuing_subword_prefix='', fuse_unk=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r'\s+'), ' '),
                                           normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior='removed', invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.post_processor = processors.TemplateProcessing(
        single=f'{START} $A {END}', special_tokens=[(START, len(vocab) - 2), (END, len(vocab) - 1)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([START, END])
    return tok


def write_tokenizer(bpe_path: str, out: str) -> dict:
    tok = build_tokenizer(bpe_path)
    tok.save(os.path.join(out, 'tokenizer.json'), pretty=False)
    config = {'tokenizer_class': 'CLIPTokenizer', 'bos_token': START, 'eos_token': END, 'pad_token': '!',
              'model_max_length': CONTEXT_LENGTH, 'do_lower_case': True}
    with open(os.path.join(out, 'tokenizer_config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    return {'vocab_size': tok.get_vocab_size(), 'start_id': tok.token_to_id(START), 'end_id': tok.token_to_id(END)}


def text_config(src: str) -> dict:
    with open(os.path.join(src, 'config.json')) as f:
        raw = json.load(f)
    cfg = dict(raw.get('text_config', raw))
    if 'text_config' in raw and 'projection_dim' in raw:
        cfg.setdefault('projection_dim', raw['projection_dim'])
    return {k: v for k, v in cfg.items() if not k.startswith('_')}


def build_text_model(torch, src: str, random_weights: bool, device: str):
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    if random_weights:
        torch.manual_seed(0)
        with torch.device(device):
            model = CLIPTextModelWithProjection(CLIPTextConfig(**text_config(src), attn_implementation='eager'))
    else:
        model = CLIPTextModelWithProjection.from_pretrained(src, attn_implementation='eager')
    return model.float().eval().to(device)


def export_text_encoder(torch, args, out: str, device: str, export_fp32, check) -> dict:
    """Writes text_encoder.onnx (fp32) and the tokenizer files into `out`; returns model.json's entry and a report."""
    model = build_text_model(torch, args.text_encoder, args.random_weights, device)

    class TextEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids):
            return self.model(input_ids=input_ids).text_embeds

    tok_info = write_tokenizer(args.bpe_vocab or default_bpe_path(), out)
    if model.config.vocab_size != tok_info['vocab_size']:
        raise SystemExit(f'export_svd: the text encoder has {model.config.vocab_size} tokens, the CLIP tokenizer '
                         f"{tok_info['vocab_size']}")
    ids = torch.zeros(1, CONTEXT_LENGTH, dtype=torch.long, device=device)
    ids[0, :4] = torch.tensor([tok_info['start_id'], 320, 1125, tok_info['end_id']])  # "a photo"
    path = os.path.join(out, 'text_encoder.onnx')
    module = TextEncoder()
    export_fp32(torch, module, (ids,), ['input_ids'], ['text_embeds'],
                {'input_ids': {0: 'batch'}, 'text_embeds': {0: 'batch'}}, path)
    report = {'vocab_size': tok_info['vocab_size'], 'dim': model.config.projection_dim}
    if args.check:
        report['ort_vs_torch_maxabs'] = check(torch, module, (ids,), ['input_ids'], path)
    entry = {
        'file': 'text_encoder.onnx',
        'tokenizer': 'tokenizer.json',
        'tokenizer_config': 'tokenizer_config.json',
        'context_length': CONTEXT_LENGTH,
        'source': 'random weights' if args.random_weights else CHECKPOINT,
    }
    return {'entry': entry, 'report': report}
