"""Rewrite SVD's temporal convolutions (Conv3d, kernel (k,1,1)) as Conv2d over [N, C, T, H*W].

The temporal VAE decoder and the UNet's temporal res-blocks mix neighbouring frames with
`nn.Conv3d(kernel_size=(3, 1, 1), padding=(1, 0, 0))`. PyTorch exports each as a 5-D ONNX `Conv`, which
onnxruntime's CPU provider runs on its generic N-d path: an im2col buffer of k · C · T·H·W floats
per call, instead of the blocked (NCHWc) 2-D kernels. Such a convolution never mixes pixels, so it is
exactly a 2-D convolution with kernel (k, 1) over the frames × (H·W) plane:

    x [N, C, T, H, W] -> Reshape [N, C, T, H*W] -> Conv(W reshaped to [Co, C, k, 1]) -> Reshape [N, Co, T, H, W]

The weight is reshaped by a Reshape node on the initializer (folded once when onnxruntime loads the
model), so weights kept in external data are never loaded or rewritten. H and W come from
Shape(x, start=3), so every axis stays dynamic. Only the `onnx` package is used.
"""

from __future__ import annotations

import onnx
from onnx import helper, numpy_helper
import numpy as np


def _attr(node: onnx.NodeProto, name: str, default):
    for a in node.attribute:
        if a.name == name:
            return list(a.ints) if a.type == onnx.AttributeProto.INTS else helper.get_attribute_value(a)
    return default


def _weight_shape(graph: onnx.GraphProto, name: str) -> list[int] | None:
    for t in graph.initializer:
        if t.name == name:
            return list(t.dims)
    return None


def _temporal(graph: onnx.GraphProto, node: onnx.NodeProto) -> list[int] | None:
    """The 5-D weight shape when `node` is a Conv3d of kernel (k,1,1), stride 1, dilation 1, one group,
    padded only in time; else None."""
    if node.op_type != 'Conv' or node.domain not in ('', 'ai.onnx') or len(node.input) < 2:
        return None
    shape = _weight_shape(graph, node.input[1])
    if shape is None or len(shape) != 5 or shape[3:] != [1, 1]:
        return None
    if _attr(node, 'group', 1) != 1 or _attr(node, 'auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET'):
        return None
    if any(s != 1 for s in _attr(node, 'strides', [1, 1, 1])) or any(d != 1 for d in _attr(node, 'dilations', [1, 1, 1])):
        return None
    pads = _attr(node, 'pads', [0] * 6)
    if pads[1:3] != [0, 0] or pads[4:6] != [0, 0]:
        return None
    return shape


def rewrite_temporal_convs(model: onnx.ModelProto) -> dict:
    """Rewrites every matching Conv3d of the main graph in place. Returns {'temporal_convs': n}."""
    graph = model.graph
    new_nodes: list[onnx.NodeProto] = []
    consts: list[onnx.TensorProto] = []
    count = 0
    for node in graph.node:
        shape = _temporal(graph, node)
        if shape is None:
            new_nodes.append(node)
            continue
        count += 1
        p = f'{node.name or node.output[0]}/temporal2d'
        co, ci, k = shape[0], shape[1], shape[2]
        pads = _attr(node, 'pads', [0] * 6)
        x, w = node.input[0], node.input[1]
        consts += [
            numpy_helper.from_array(np.array([0, 0, 0, -1], dtype=np.int64), f'{p}/x_shape'),
            numpy_helper.from_array(np.array([co, ci, k, 1], dtype=np.int64), f'{p}/w_shape'),
            numpy_helper.from_array(np.array([0, co, 0], dtype=np.int64), f'{p}/y_head'),
        ]
        conv_inputs = [f'{p}/x', f'{p}/w'] + list(node.input[2:])
        new_nodes += [
            helper.make_node('Reshape', [x, f'{p}/x_shape'], [f'{p}/x'], name=f'{p}/reshape_x'),
            helper.make_node('Reshape', [w, f'{p}/w_shape'], [f'{p}/w'], name=f'{p}/reshape_w'),
            helper.make_node('Conv', conv_inputs, [f'{p}/y'], name=f'{p}/conv',
                             kernel_shape=[k, 1], pads=[pads[0], 0, pads[3], 0]),
            helper.make_node('Shape', [x], [f'{p}/hw'], name=f'{p}/shape_hw', start=3),
            helper.make_node('Concat', [f'{p}/y_head', f'{p}/hw'], [f'{p}/y_shape'], name=f'{p}/y_shape', axis=0),
            helper.make_node('Reshape', [f'{p}/y', f'{p}/y_shape'], [node.output[0]], name=f'{p}/reshape_y'),
        ]
    if count:
        del graph.node[:]
        graph.node.extend(new_nodes)
        graph.initializer.extend(consts)
        # Shape(start=) needs opset 15; SVD's export is opset 17.
        for op in model.opset_import:
            if op.domain in ('', 'ai.onnx') and op.version < 15:
                raise ValueError(f'temporal conv rewrite needs opset >= 15, the model has {op.version}')
    return {'temporal_convs': count}


def count_temporal_convs(model: onnx.ModelProto) -> int:
    """Conv3d nodes the rewrite would change (0 after it ran)."""
    return sum(_temporal(model.graph, n) is not None for n in model.graph.node)
