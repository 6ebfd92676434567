#!/usr/bin/env python3
"""Fuse the attention of an existing stillmotion model folder in place (one made before fusing was the default,
or with --no-fuse), and rewrite its temporal Conv3d as Conv2d (temporal_conv.py).

    fuse_folder.py DIR

For each of the four ONNX files in DIR/model.json, every unfused attention becomes one com.microsoft
MultiHeadAttention node (fuse_attention.py), every temporal Conv3d of kernel (k,1,1) becomes a Conv2d over
[N, C, T, H*W], and model.json's `attention` and `temporal_convs` record what was done. Only the
graph is rewritten: weights kept in external data (`unet.onnx.data`, `image_encoder.onnx.data`) are not
loaded, copied or changed, so a full-size UNet is fixed in seconds with little memory. Each file is written
beside the original and then renamed over it. Running it twice is harmless: the second run finds nothing.
Needs only the `onnx` package. Prints one JSON line (the report) on stdout.
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

PARTS = ('image_encoder', 'vae_encoder', 'unet', 'vae_decoder')


def fuse_file(path: str) -> tuple[dict, int]:
    """The attention report and the number of temporal convolutions rewritten."""
    import onnx

    from fuse_attention import fuse_report
    from temporal_conv import rewrite_temporal_convs

    model = onnx.load(path, load_external_data=False)
    report = fuse_report(model)
    temporal = rewrite_temporal_convs(model)['temporal_convs']
    if report['fused'] or temporal:
        tmp = path + '.fusing'
        onnx.save_model(model, tmp)  # external tensors keep their location and offsets
        os.replace(tmp, path)
    return report, temporal


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('dir', help='model folder (model.json and the four ONNX files)')
    args = p.parse_args(argv)
    meta_path = os.path.join(args.dir, 'model.json')
    if not os.path.exists(meta_path):
        print(f'fuse_folder: no model.json in {args.dir}', file=sys.stderr)
        return 2
    with open(meta_path) as f:
        meta = json.load(f)
    t0 = time.time()
    parts = {}
    temporal = dict(meta.get('temporal_convs', {}))
    for part in PARTS:
        path = os.path.join(args.dir, meta.get('files', {}).get(part, f'{part}.onnx'))
        parts[part], rewritten = fuse_file(path)
        temporal[part] = temporal.get(part, 0) + rewritten
        print(f'fuse_folder: {part}: {parts[part]}, temporal convs rewritten: {rewritten}', file=sys.stderr, flush=True)
    left = sum(r['unfused_left'] for name, r in parts.items() if name != 'image_encoder')
    meta['attention'] = {'fused': left == 0, 'route': 'rewrite', 'parts': parts}
    meta['temporal_convs'] = temporal
    tmp = meta_path + '.fusing'
    with open(tmp, 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')
    os.replace(tmp, meta_path)
    print(json.dumps({'dir': args.dir, 'attention': meta['attention'], 'temporal_convs': temporal, 'seconds': round(time.time() - t0, 1)}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
