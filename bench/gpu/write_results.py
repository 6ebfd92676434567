#!/usr/bin/env python3
"""Combine the pieces of one bench:gpu session into bench/results/<date>-<gpu>.json.

    write_results.py --out-dir DIR --stillmotion SM.json --stillmotion-vram V1.json
                     [--diffusers DF.json --diffusers-vram V2.json] [--export EXPORT.json]
                     [--check CHECK.json] [--video-ms MS] [--device NAME] [--dry-run]

SM.json is the JSON line of `node src/cli/bench.ts`; DF.json that of diffusers_bench.py; the vram files
come from sample_vram.py. --video-ms replaces stillmotion's video step with a time measured elsewhere
(the device image has no ffmpeg), and the note says so. Prints the path of the file written.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys


def load(path: str | None):
    if not path:
        return None
    with open(path) as f:
        text = f.read().strip()
    return json.loads(text.splitlines()[-1]) if text else None


def gpu_name() -> str:
    try:
        out = subprocess.run(['nvidia-smi', '--query-gpu=name', '--format=csv,noheader'], capture_output=True,
                             text=True, check=False)
    except FileNotFoundError:
        return 'cpu'
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else 'cpu'


def ratio(a, b):
    return round(a / b, 3) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out-dir', required=True)
    p.add_argument('--stillmotion', required=True)
    p.add_argument('--stillmotion-vram')
    p.add_argument('--diffusers')
    p.add_argument('--diffusers-vram')
    p.add_argument('--export')
    p.add_argument('--check')
    p.add_argument('--video-ms', type=float)
    p.add_argument('--device')
    p.add_argument('--dry-run', action='store_true')
    args = p.parse_args(argv)

    sm, df = load(args.stillmotion), load(args.diffusers)
    sm_vram, df_vram = load(args.stillmotion_vram) or {}, load(args.diffusers_vram) or {}
    notes = []
    video_ms = sm.get('video_ms')
    total_ms = sm['total_ms']
    if args.video_ms is not None:
        total_ms = total_ms - (video_ms or 0) + args.video_ms
        video_ms = args.video_ms
        notes.append('stillmotion video_ms was measured where ffmpeg exists (the device image has none) '
                     'and added to the total')
    device = args.device or gpu_name()
    now = datetime.datetime.now(datetime.timezone.utc)
    result = {
        'device': device,
        'date': now.strftime('%Y-%m-%d'),
        'model': sm.get('model'),
        'shape': {'frames': sm.get('frames'), 'width': sm.get('width'), 'height': sm.get('height'),
                  'steps': sm.get('steps')},
        'stillmotion': {
            'clip_ms': sm.get('clip_ms'),
            'vae_encode_ms': sm.get('vae_encode_ms'),
            'unet_step_ms': sm.get('unet_step_ms'),
            'vae_decode_ms': sm.get('vae_decode_ms'),
            'video_ms': video_ms,
            'total_s': round(total_ms / 1000, 3),
            'peak_vram_gib': sm_vram.get('peak_gib'),
        },
        'diffusers': None if df is None else {
            'unet_step_ms': df.get('unet_step_ms'),
            'vae_decode_ms': df.get('vae_decode_ms'),
            'total_s': df.get('total_s'),
            'peak_vram_gib': df_vram.get('peak_gib'),
        },
    }
    if df is not None:
        result['ratios'] = {
            'total': ratio(result['stillmotion']['total_s'], df.get('total_s')),
            'unet_step': ratio(sm.get('unet_step_ms'), df.get('unet_step_ms')),
        }
        if df.get('video_ms') is None:
            notes.append('diffusers total_s excludes export_to_video: ' + (df.get('note') or 'no video writer'))
    else:
        notes.append('diffusers not run (no torch/diffusers here)')
    result['details'] = {'stillmotion': sm, 'diffusers': df, 'export': load(args.export), 'cuda_check': load(args.check),
                         'vram': {'stillmotion': sm_vram, 'diffusers': df_vram}}
    if args.dry_run:
        notes.append('CPU dry run with the tiny model: not a measurement')
    result['notes'] = notes
    slug = re.sub(r'[^a-z0-9]+', '-', device.lower()).strip('-') or 'cpu'
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, f"{result['date']}-{slug}.json")
    with open(path, 'w') as f:
        json.dump(result, f, indent=2)
        f.write('\n')
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
