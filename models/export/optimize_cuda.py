#!/usr/bin/env python3
"""Optimise an fp32 TorchScript export of the SVD UNet for onnxruntime's CUDA execution provider.

    optimize_cuda.py IN.onnx OUT.onnx [--route auto|ort|rewrite] [--no-fp16]

Routes (see README.md, "CUDA optimisation"):
  ort      onnxruntime's transformer optimizer, model_type "unet": MultiHeadAttention (packed QKV / KV),
           GroupNorm, SkipGroupNorm, NhwcConv, BiasSplitGelu, SkipLayerNormalization. Needs the onnxruntime
           Python package. A shim fixes its crash under NumPy >= 2.4 (the "numpy TypeError").
  rewrite  this folder's own rewrite (fuse_attention.py): every diffusers attention becomes one
           com.microsoft MultiHeadAttention node. Needs only `onnx`.
  auto     ort when onnxruntime is importable, then the rewrite for any attention it left unfused;
           the rewrite alone otherwise.

fp16 (the default): weights and compute in float16, inputs and outputs kept float32, with the
sinusoidal time embeddings kept in float32 as PyTorch computes them. Uses onnxruntime's float16 converter.
Prints one JSON line (the report) on stdout; logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# Protobuf cannot serialise one message over 2 GiB: bigger models keep their weights in `<file>.data`.
EXTERNAL_DATA_THRESHOLD = 1_800_000_000
# PyTorch computes these in float32 even in a float16 model (get_timestep_embedding); keep them so.
FP32_NODE_MARKERS = ('/time_proj/', '/add_time_proj/')


def log(msg: str) -> None:
    print(f'optimize_cuda: {msg}', file=sys.stderr, flush=True)


def ort_available() -> bool:
    try:
        import onnxruntime.transformers.optimizer  # noqa: F401
    except ImportError:
        return False
    return True


def patch_ort_num_heads() -> None:
    """onnxruntime's FusionAttentionUnet.get_num_heads calls int() on a shape-[1] array for graphs from
    PyTorch 2 (the head count is the third input of the Concat that builds the Q reshape). NumPy 2.4
    turned that long-deprecated conversion into `TypeError: only 0-dimensional arrays can be converted
    to Python scalars`, which aborts the whole optimisation. Read the element instead."""
    import numpy as np
    import onnxruntime.transformers  # noqa: F401  (puts the optimizer's own folder on sys.path)
    import fusion_attention_unet  # the module object the optimizer really uses

    cls = fusion_attention_unet.FusionAttentionUnet
    if getattr(cls, '_stillmotion_patched', False):
        return
    original = cls.get_num_heads

    def get_num_heads(self, reshape_q, is_torch2=False):
        if is_torch2:
            parent = self.model.get_parent(reshape_q, 1)
            if parent is not None and parent.op_type == 'Concat' and len(parent.input) == 4:
                value = self.model.get_constant_value(parent.input[2])
                if isinstance(value, np.ndarray) and value.size == 1 and int(value.reshape(-1)[0]) > 0:
                    return int(value.reshape(-1)[0])
            return 0
        return original(self, reshape_q, is_torch2)

    cls.get_num_heads = get_num_heads
    cls._stillmotion_patched = True


def op_counts(model) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def run_ort_optimizer(in_path: str):
    """onnxruntime's transformer optimizer on the UNet; returns the optimised ModelProto."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    patch_ort_num_heads()
    options = FusionOptions('unet')
    # opt_level 0: graph fusions in Python only, no onnxruntime session (so no GPU is needed to optimise).
    optimized = optimize_model(
        in_path, model_type='unet', num_heads=0, hidden_size=0, opt_level=0, optimization_options=options, use_gpu=True
    )
    return optimized.model


def to_fp16(model):
    """float16 weights and compute, float32 inputs/outputs, time embeddings in float32."""
    from onnxruntime.transformers.onnx_model import OnnxModel

    keep = [n.name for n in model.graph.node if any(m in n.name for m in FP32_NODE_MARKERS)]
    wrapper = OnnxModel(model)
    wrapper.convert_float_to_float16(keep_io_types=True, node_block_list=keep)
    return wrapper.model


def save(model, path: str) -> None:
    import onnx

    size = sum(t.ByteSize() for t in model.graph.initializer)
    data = os.path.basename(path) + '.data'
    if os.path.exists(os.path.join(os.path.dirname(path) or '.', data)):
        os.remove(os.path.join(os.path.dirname(path) or '.', data))
    if size > EXTERNAL_DATA_THRESHOLD:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=data)
    else:
        onnx.save_model(model, path)


def optimize(in_path: str, out_path: str, route: str = 'auto', fp16: bool = True) -> dict:
    import onnx

    from fuse_attention import count_attention_softmax, fuse_attention

    t0 = time.time()
    have_ort = ort_available()
    if route == 'ort' and not have_ort:
        raise SystemExit('optimize_cuda: --route ort needs the onnxruntime Python package (pip install onnxruntime)')
    if fp16 and not have_ort:
        raise SystemExit('optimize_cuda: fp16 conversion needs the onnxruntime Python package; or pass --no-fp16')
    report: dict = {'input': in_path, 'output': out_path, 'fp16': fp16}
    if route in ('ort', 'auto') and have_ort:
        model = run_ort_optimizer(in_path)
        report['route'] = 'ort'
    else:
        model = onnx.load(in_path)
        report['route'] = 'rewrite'
    report['unfused_attention_before_rewrite'] = count_attention_softmax(model)
    if report['unfused_attention_before_rewrite']:
        rewrite = fuse_attention(model)
        report['rewrite_fused'] = rewrite['fused']
        if report['route'] == 'ort':
            report['route'] = 'ort+rewrite'
    report['unfused_attention_left'] = count_attention_softmax(model)
    if fp16:
        model = to_fp16(model)
    counts = op_counts(model)
    fused_ops = ('MultiHeadAttention', 'Attention', 'GroupNorm', 'SkipGroupNorm', 'NhwcConv', 'BiasSplitGelu',
                 'SkipLayerNormalization', 'LayerNormalization', 'BiasAdd')
    report['ops'] = {op: counts[op] for op in fused_ops if op in counts}
    save(model, out_path)
    report['seconds'] = round(time.time() - t0, 1)
    log(f"{report['route']}: {report['ops']} in {report['seconds']} s")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('input', help='fp32 UNet exported with the TorchScript exporter')
    parser.add_argument('output', help='where to write the optimised model (an existing file is replaced)')
    parser.add_argument('--route', choices=('auto', 'ort', 'rewrite'), default='auto')
    parser.add_argument('--no-fp16', dest='fp16', action='store_false', help='keep float32 (for CPU checks)')
    args = parser.parse_args(argv)
    report = optimize(args.input, args.output, args.route, args.fp16)
    print(json.dumps(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
