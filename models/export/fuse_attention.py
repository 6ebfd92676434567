"""Rewrite the unfused attention of a TorchScript-exported SVD UNet into com.microsoft MultiHeadAttention.

diffusers' `Attention` with `AttnProcessor2_0` calls `F.scaled_dot_product_attention`. PyTorch's TorchScript
ONNX exporter (opset 17) writes that call out as plain ops, per attention:

    q = Reshape(to_q, [B, -1, H, Dh]) -> Transpose(0,2,1,3) -> Mul(sqrt(scale))
    k = Reshape(to_k, [B, -1, H, Dh]) -> Transpose(0,2,3,1) -> Mul(sqrt(scale))   (or two Transposes)
    v = Reshape(to_v, [B, -1, H, Dh]) -> Transpose(0,2,1,3)
    out = MatMul(Softmax(MatMul(q, k)), v) -> Transpose(0,2,1,3) -> Reshape(...)

where scale = 1/sqrt(Dh) comes from Shape(q)[-1] at run time. onnxruntime's MultiHeadAttention takes the
three projections ([B, S, H*Dh], [B, L, H*Dh], [B, L, H*Dh]) directly and returns [B, S, H*Dh], which has
the same row-major element order as the [B, S, H, Dh] tensor the last Transpose produced. So the rewrite
feeds the projections to one MultiHeadAttention node, gives its output the last Transpose's output name,
keeps the final Reshape untouched, and drops only what became unreachable. Everything else stays as it was.

Only the `onnx` package is used, so this runs with Debian's python3-onnx.
"""

from __future__ import annotations

import onnx
from onnx import helper, numpy_helper

MS_DOMAIN = 'com.microsoft'


class Graph:
    """Producer/consumer indexes over one GraphProto."""

    def __init__(self, graph: onnx.GraphProto, nodes: list[onnx.NodeProto]) -> None:
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in nodes:
            for out in node.output:
                self.producer[out] = node
            for inp in node.input:
                self.consumers.setdefault(inp, []).append(node)
        self.initializers = {t.name: t for t in graph.initializer}
        self.outputs = {o.name for o in graph.output}

    def parent(self, name: str, op_type: str) -> onnx.NodeProto | None:
        node = self.producer.get(name)
        return node if node is not None and node.op_type == op_type else None

    def sole_consumer(self, name: str) -> onnx.NodeProto | None:
        users = self.consumers.get(name, [])
        if len(users) != 1 or name in self.outputs:
            return None
        return users[0]

    def constant(self, name: str):
        """The value of an initializer or Constant node output as a numpy array, else None. Weights kept in
        external data (not loaded: a folder fixed in place) are never one of the small constants matched."""
        if name in self.initializers:
            tensor = self.initializers[name]
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                return None
            return numpy_helper.to_array(tensor)
        node = self.producer.get(name)
        if node is not None and node.op_type == 'Constant':
            for attr in node.attribute:
                if attr.name == 'value':
                    return numpy_helper.to_array(attr.t)
        return None

    def skip_casts(self, name: str) -> str:
        node = self.producer.get(name)
        while node is not None and node.op_type == 'Cast':
            name = node.input[0]
            node = self.producer.get(name)
        return name


def _perm(node: onnx.NodeProto) -> list[int]:
    for attr in node.attribute:
        if attr.name == 'perm':
            return list(attr.ints)
    return []


def _scalar(value) -> float | None:
    if value is None or value.size != 1:
        return None
    return float(value.reshape(-1)[0])


def _heads_of(g: Graph, reshape: onnx.NodeProto) -> int | None:
    """H from a head-splitting Reshape to [B, -1, H, Dh]: a constant shape or a Concat of four pieces."""
    shape = g.constant(reshape.input[1])
    if shape is not None:
        flat = shape.reshape(-1)
        if flat.size == 4 and int(flat[1]) == -1 and int(flat[2]) > 0 and int(flat[0]) != 0:
            return int(flat[2])
        return None
    concat = g.parent(reshape.input[1], 'Concat')
    if concat is None or len(concat.input) != 4:
        return None
    minus_one, heads = _scalar(g.constant(concat.input[1])), _scalar(g.constant(concat.input[2]))
    if minus_one != -1 or heads is None or heads <= 0:
        return None
    return int(heads)


def _split_heads(g: Graph, name: str, perm: list[int]) -> tuple[onnx.NodeProto, onnx.NodeProto] | None:
    """Match `Transpose(perm) <- Reshape(projection)` behind tensor `name`; returns (reshape, transpose)."""
    transpose = g.parent(name, 'Transpose')
    if transpose is None or _perm(transpose) != perm:
        return None
    reshape = g.parent(transpose.input[0], 'Reshape')
    if reshape is None or g.sole_consumer(reshape.output[0]) is not transpose:
        return None
    return reshape, transpose


def _default_scale_source(g: Graph, name: str, head_tensors: set[str]) -> bool:
    """True if `name` is sqrt(1 / sqrt(Shape(t)[-1])) for t one of the head-split Q tensors."""
    sqrt_outer = g.parent(g.skip_casts(name), 'Sqrt')
    if sqrt_outer is None:
        return False
    div = g.parent(g.skip_casts(sqrt_outer.input[0]), 'Div')
    if div is None or _scalar(g.constant(div.input[0])) != 1.0:
        return False
    sqrt_inner = g.parent(g.skip_casts(div.input[1]), 'Sqrt')
    if sqrt_inner is None:
        return False
    slice_node = g.parent(g.skip_casts(sqrt_inner.input[0]), 'Slice')
    if slice_node is None or len(slice_node.input) < 3 or _scalar(g.constant(slice_node.input[1])) != -1:
        return False
    end = _scalar(g.constant(slice_node.input[2]))
    if end is None or end < 2**31 - 1:
        return False
    shape = g.parent(slice_node.input[0], 'Shape')
    return shape is not None and shape.input[0] in head_tensors


def _scaled(g: Graph, name: str, head_tensors: set[str]):
    """Strip an optional `Mul(x, s)` behind `name`: returns (x, s_kind, mul_node) with s_kind
    'default' (the dynamic 1/sqrt(Dh) pattern, as a square root), a float constant, or 1.0 with no Mul."""
    mul = g.parent(name, 'Mul')
    if mul is None:
        return name, 1.0, None
    if g.sole_consumer(mul.output[0]) is None:
        return None
    for data_index in (0, 1):
        data, factor = mul.input[data_index], mul.input[1 - data_index]
        if g.producer.get(data) is None or g.producer[data].op_type != 'Transpose':
            continue
        value = _scalar(g.constant(factor))
        if value is not None:
            return data, value, mul
        if _default_scale_source(g, factor, head_tensors):
            return data, 'default', mul
    return None


def _match(g: Graph, softmax: onnx.NodeProto):
    """Match one attention around a Softmax; returns the nodes to replace and the MHA node, or None."""
    axis = next((a.i for a in softmax.attribute if a.name == 'axis'), -1)
    if axis not in (-1, 3):
        return None
    qk = g.parent(softmax.input[0], 'MatMul')
    av = g.sole_consumer(softmax.output[0])
    if qk is None or av is None or av.op_type != 'MatMul' or av.input[0] != softmax.output[0]:
        return None
    if g.sole_consumer(qk.output[0]) is not softmax:
        return None
    merge = g.sole_consumer(av.output[0])
    if merge is None or merge.op_type != 'Transpose' or _perm(merge) != [0, 2, 1, 3]:
        return None

    v = _split_heads(g, av.input[1], [0, 2, 1, 3])
    # The dynamic scale is computed from the head-split Q tensor: the Transpose feeding Q's Mul.
    q_mul_node = g.parent(qk.input[0], 'Mul')
    q_heads = {i for i in (q_mul_node.input if q_mul_node is not None else []) if g.parent(i, 'Transpose')}
    q_scaled = _scaled(g, qk.input[0], q_heads)
    k_scaled = _scaled(g, qk.input[1], q_heads)
    if v is None or q_scaled is None or k_scaled is None:
        return None
    q_name, q_scale, q_mul = q_scaled
    k_name, k_scale, k_mul = k_scaled
    q = _split_heads(g, q_name, [0, 2, 1, 3])
    k = _split_heads(g, k_name, [0, 2, 3, 1])
    k_extra: list[onnx.NodeProto] = []
    if k is None:  # Transpose(0,1,3,2) after the head Transpose(0,2,1,3)
        swap = g.parent(k_name, 'Transpose')
        if swap is None or _perm(swap) != [0, 1, 3, 2] or g.sole_consumer(swap.input[0]) is not swap:
            return None
        k = _split_heads(g, swap.input[0], [0, 2, 1, 3])
        k_extra = [swap]
    if q is None or k is None:
        return None
    for _reshape, transpose in (q, k, v):
        # Besides the chain, only Shape nodes (the run-time scale arithmetic) may read a head-split tensor.
        users = g.consumers.get(transpose.output[0], [])
        if sum(u.op_type != 'Shape' for u in users) != 1 or transpose.output[0] in g.outputs:
            return None
    heads = {_heads_of(g, q[0]), _heads_of(g, k[0]), _heads_of(g, v[0])}
    if len(heads) != 1 or None in heads:
        return None
    num_heads = heads.pop()

    if q_scale == 'default' and k_scale == 'default':
        scale = None  # MultiHeadAttention's own default, 1/sqrt(head_size)
    elif isinstance(q_scale, float) and isinstance(k_scale, float):
        scale = q_scale * k_scale
    else:
        return None

    removed = [q[0], q[1], k[0], k[1], *k_extra, v[0], v[1], qk, softmax, av, merge]
    removed += [n for n in (q_mul, k_mul) if n is not None]
    base = softmax.name.rsplit('/', 1)[0] if '/' in softmax.name else softmax.name
    attrs = {'num_heads': num_heads}
    if scale is not None:
        attrs['scale'] = float(scale)
    mha = helper.make_node(
        'MultiHeadAttention',
        inputs=[q[0].input[0], k[0].input[0], v[0].input[0]],
        outputs=[merge.output[0]],
        name=f'{base}/MultiHeadAttention',
        domain=MS_DOMAIN,
        **attrs,
    )
    return removed, merge, mha


def _reachable(nodes: list[onnx.NodeProto], outputs: list[str]) -> set[int]:
    """Indexes of the nodes that some graph output depends on."""
    producer = {}
    for i, node in enumerate(nodes):
        for out in node.output:
            producer[out] = i
    seen: set[int] = set()
    stack = [producer[name] for name in outputs if name in producer]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(producer[name] for name in nodes[i].input if name in producer)
    return seen


def _check_wired(graph: onnx.GraphProto) -> None:
    """Every node input must still come from a node, an initializer or a graph input."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {''}
    for node in graph.node:
        missing = [name for name in node.input if name not in known]
        if missing:
            raise ValueError(f'attention rewrite left {node.name} without its input {missing[0]}')
        known.update(node.output)


def fuse_attention(model: onnx.ModelProto) -> dict:
    """Rewrite every matched attention in `model` (in place). Returns a report with the count."""
    graph = model.graph
    outputs = [o.name for o in graph.output]
    nodes = list(graph.node)  # held, so id() of each wrapper stays valid
    g = Graph(graph, nodes)
    alive_before = {id(nodes[i]) for i in _reachable(nodes, outputs)}
    removed_ids: set[int] = set()
    replacements: dict[int, onnx.NodeProto] = {}
    fused = []
    for node in nodes:
        if node.op_type != 'Softmax' or id(node) in removed_ids:
            continue
        found = _match(g, node)
        if found is None:
            continue
        removed, anchor, mha = found
        if any(id(n) in removed_ids for n in removed):
            continue
        removed_ids.update(id(n) for n in removed)
        replacements[id(anchor)] = mha
        fused.append({'name': mha.name, 'num_heads': mha.attribute[0].i})

    rewritten = []
    for node in nodes:
        if id(node) in replacements:
            rewritten.append(replacements[id(node)])
        elif id(node) not in removed_ids:
            rewritten.append(node)
    # Drop what the rewrite left unreachable (the head-split shape arithmetic), nothing else.
    alive = _reachable(rewritten, outputs)
    kept = [n for i, n in enumerate(rewritten) if i in alive or id(n) not in alive_before]
    dead = len(rewritten) - len(kept)
    copies = []
    for n in kept:
        c = onnx.NodeProto()
        c.CopyFrom(n)
        copies.append(c)
    del nodes, rewritten, kept
    graph.ClearField('node')
    graph.node.extend(copies)
    used = {name for n in graph.node for name in n.input}
    stale = [t for t in graph.initializer if t.name not in used and t.name not in g.outputs]
    stale_names = {t.name for t in stale}
    for t in stale:
        graph.initializer.remove(t)
    changed = {n.output[0] for n in replacements.values()} | stale_names
    for vi in [vi for vi in graph.value_info if vi.name in changed]:
        graph.value_info.remove(vi)

    _check_wired(graph)
    if fused and not any(op.domain == MS_DOMAIN for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return {'fused': len(fused), 'attention': fused, 'dead_nodes_removed': dead, 'initializers_removed': len(stale)}


def count_attention_softmax(model: onnx.ModelProto) -> int:
    """Softmax nodes fed by a MatMul and feeding a MatMul: the unfused attentions in a graph."""
    g = Graph(model.graph, list(model.graph.node))
    total = 0
    for node in model.graph.node:
        if node.op_type != 'Softmax':
            continue
        users = g.consumers.get(node.output[0], [])
        if g.parent(node.input[0], 'MatMul') is not None and any(u.op_type == 'MatMul' for u in users):
            total += 1
    return total



def fuse_report(model: onnx.ModelProto) -> dict:
    """Fuse what is unfused in `model` (in place) and say what was done: the one record that export_svd.py,
    fuse_folder.py and optimize_cuda.py write (model.json's `attention.parts`)."""
    before = count_attention_softmax(model)
    fused = fuse_attention(model)['fused'] if before else 0
    return {'unfused_before': before, 'fused': fused, 'unfused_left': count_attention_softmax(model),
            'multi_head_attention': sum(n.op_type == 'MultiHeadAttention' for n in model.graph.node)}
