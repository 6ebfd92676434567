#!/usr/bin/env python3
"""Test helper: compare an original ONNX graph with its attention-rewritten version; print a JSON report.

    inspect_rewrite.py ORIGINAL REWRITTEN
    inspect_rewrite.py --corrupt-heads REWRITTEN OUT   (a deliberately wrong copy: first MHA gets 1 head)
"""
import json
import sys

import onnx


def main(argv):
    if argv[0] == '--corrupt-heads':
        model = onnx.load(argv[1])
        mha = next(n for n in model.graph.node if n.op_type == 'MultiHeadAttention')
        next(a for a in mha.attribute if a.name == 'num_heads').i = 1
        onnx.save(model, argv[2])
        return 0
    before, after = onnx.load(argv[0]), onnx.load(argv[1])
    onnx.checker.check_model(after)
    old = {n.name: n.SerializeToString() for n in before.graph.node}
    new = {n.name: n for n in after.graph.node}
    sys.path.insert(0, 'models/export')
    from fuse_attention import count_attention_softmax

    old_init = {t.name: t.SerializeToString() for t in before.graph.initializer}
    readers = {}
    for n in before.graph.node:
        for name in n.input:
            readers.setdefault(name, []).append(n.name)
    removed = sorted(name for name in old if name not in new)

    def inside_attention(node_name):  # an attention node, or a constant only attention nodes read
        if '/attn1/' in node_name or '/attn2/' in node_name:
            return True
        node = next(n for n in before.graph.node if n.name == node_name)
        users = [u for out in node.output for u in readers.get(out, [])]
        return node.op_type == 'Constant' and bool(users) and all('/attn1/' in u or '/attn2/' in u for u in users)
    report = {
        'softmax_attention': count_attention_softmax(after),
        'mha': [{'name': n.name, 'domain': n.domain, 'inputs': list(n.input),
                 'num_heads': next(a.i for a in n.attribute if a.name == 'num_heads')}
                for n in after.graph.node if n.op_type == 'MultiHeadAttention'],
        'removed': removed,
        'removed_outside_attention': [name for name in removed if not inside_attention(name)],
        'changed': sorted(name for name, n in new.items() if name in old and n.SerializeToString() != old[name]),
        'nodes': len(after.graph.node),
        'initializers_changed': sum(1 for t in after.graph.initializer if old_init.get(t.name) != t.SerializeToString()),
        'opsets': {o.domain: o.version for o in after.opset_import},
        'io': [i.name for i in after.graph.input] + [o.name for o in after.graph.output],
    }
    print(json.dumps(report))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
