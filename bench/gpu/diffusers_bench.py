#!/usr/bin/env python3
"""Time diffusers' StableVideoDiffusionPipeline on the model that export_svd.py --random-weights builds.

    diffusers_bench.py [CONFIG_DIR] [--device cuda|cpu] [--dtype fp16|fp32] [--frames 25] [--steps 25]
                       [--width 1024] [--height 576] [--decode-chunk-size 8] [--runs 2] [--video OUT.mp4]
                       [--threads N] [--warmup full|small|none]

Builds the same networks as models/export/export_svd.py (same configs, same seed), puts them in a
StableVideoDiffusionPipeline with its default attention (SDPA), runs one warm-up and then --runs timed
calls on one picture, and prints one JSON line: the medians of unet_step_ms (one UNet call, CUDA-synced),
clip_ms and vae_encode_ms (the image encoders), vae_decode_ms (all decode chunks), pipeline_ms (PNG in memory to frames), video_ms (export_to_video, or
null when no video writer is installed), total_s, load_ms, torch's peak allocated memory and the
process's peak RSS (peak_rss_mb, for CPU runs). `--warmup small` warms up at 64x64, 2 frames, 1 step (as
stillmotion's engine does) instead of a whole run at the bench size. GPU memory as the
driver sees it is sampled outside, by sample_vram.py. Needs torch, transformers and diffusers (or
DIFFUSERS_SRC pointing at a diffusers checkout's src folder).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'models', 'export'))


def log(msg: str) -> None:
    print(f'diffusers_bench: {msg}', file=sys.stderr, flush=True)


def picture(width: int, height: int):
    """The bench picture: a blue field with an orange disc (what src/cli/bench.ts draws)."""
    from PIL import Image, ImageDraw

    im = Image.new('RGB', (width, height), (40, 90, 160))
    r = height // 3
    ImageDraw.Draw(im).ellipse([width // 2 - r, height // 2 - r, width // 2 + r, height // 2 + r], fill=(255, 165, 0))
    return im


def cpu_seconds(resource) -> float:
    """User + system CPU seconds of this process, all threads."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


class Timer:
    """Wraps a module method and records its CUDA-synchronised wall time per call."""

    def __init__(self, torch, owner, attr: str) -> None:
        self.torch, self.calls = torch, []
        inner = getattr(owner, attr)

        def timed(*a, **k):
            self.sync()
            t = time.perf_counter()
            out = inner(*a, **k)
            self.sync()
            self.calls.append((time.perf_counter() - t) * 1000)
            return out

        setattr(owner, attr, timed)

    def sync(self) -> None:
        if self.torch.cuda.is_available():
            self.torch.cuda.synchronize()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config', nargs='?', help='diffusers config folder (default: built-in SVD-XT configs)')
    p.add_argument('--device', default='cuda')
    p.add_argument('--dtype', choices=('fp16', 'fp32'), default='fp16')
    p.add_argument('--frames', type=int, default=25)
    p.add_argument('--steps', type=int, default=25)
    p.add_argument('--width', type=int, default=1024)
    p.add_argument('--height', type=int, default=576)
    p.add_argument('--decode-chunk-size', type=int, default=8)
    p.add_argument('--runs', type=int, default=2)
    p.add_argument('--fps', type=int, default=7)
    p.add_argument('--threads', type=int, help='torch intra-op threads (default torch\'s)')
    p.add_argument('--warmup', choices=('full', 'small', 'none'), default='full')
    args = p.parse_args(argv)

    import resource

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    t_load = time.perf_counter()

    import export_svd

    if os.environ.get('DIFFUSERS_SRC'):
        sys.path.insert(0, os.environ['DIFFUSERS_SRC'])
    from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline
    from diffusers.utils import export_to_video
    from transformers import CLIPImageProcessor

    build_args = argparse.Namespace(random_weights=True, src=args.config, unet_weights=None)
    clip, vae, unet = export_svd.build_models(build_args, torch, args.device)
    sched = EulerDiscreteScheduler(**export_svd.read_config(args.config, 'scheduler', export_svd.SVD_SCHEDULER_CONFIG, optional=True))
    pipe = StableVideoDiffusionPipeline(vae=vae, image_encoder=clip, unet=unet, scheduler=sched,
                                        feature_extractor=CLIPImageProcessor())
    dtype = torch.float16 if args.dtype == 'fp16' else torch.float32
    pipe.to(args.device, dtype)
    pipe.set_progress_bar_config(disable=True)
    load_ms = (time.perf_counter() - t_load) * 1000
    unet_t = Timer(torch, pipe.unet, 'forward')
    dec_t = Timer(torch, pipe.vae, 'decode')
    enc_t = Timer(torch, pipe.vae, 'encode')
    clip_t = Timer(torch, pipe.image_encoder, 'forward')
    image = picture(args.width, args.height)
    out_dir = tempfile.mkdtemp(prefix='diffusers-bench-')
    results = []
    video_note = None
    if args.warmup == 'small':
        with torch.no_grad():
            pipe(picture(64, 64), height=64, width=64, num_frames=2, num_inference_steps=1, decode_chunk_size=2,
                 generator=torch.manual_seed(0))
    for run in range(0 if args.warmup == 'full' else 1, args.runs + 1):  # run 0: the full-size warm-up
        for timer in (unet_t, dec_t, enc_t, clip_t):
            timer.calls.clear()
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        cpu0 = cpu_seconds(resource)
        with torch.no_grad():
            frames = pipe(image, height=args.height, width=args.width, num_frames=args.frames,
                          num_inference_steps=args.steps, decode_chunk_size=args.decode_chunk_size, fps=args.fps,
                          motion_bucket_id=127, noise_aug_strength=0.02, generator=torch.manual_seed(1)).frames[0]
        unet_t.sync()
        t1 = time.perf_counter()
        video_ms = None
        try:
            export_to_video(frames, os.path.join(out_dir, f'run{run}.mp4'), fps=args.fps)
            video_ms = (time.perf_counter() - t1) * 1000
        except (ImportError, OSError, RuntimeError, AttributeError) as err:  # no imageio/opencv writer here
            video_note = f'export_to_video unavailable: {type(err).__name__}: {str(err)[:120]}'
        rec = {
            'unet_step_ms': statistics.median(unet_t.calls),
            'unet_calls': len(unet_t.calls),
            'vae_decode_ms': sum(dec_t.calls),
            'cpu_s': cpu_seconds(resource) - cpu0,
            'clip_ms': sum(clip_t.calls),
            'vae_encode_ms': sum(enc_t.calls),
            'pipeline_ms': (t1 - t0) * 1000,
            'video_ms': video_ms,
            'torch_peak_gib': torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
        }
        warm = run == 0
        log(('warm-up ' if warm else f'run {run}: ') + json.dumps({k: v for k, v in rec.items()}))
        if not warm:
            results.append(rec)

    def med(key):
        vals = [r[key] for r in results if r[key] is not None]
        return round(statistics.median(vals), 2) if vals else None

    pipeline_ms, video = med('pipeline_ms'), med('video_ms')
    report = {
        'device': torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu',
        'dtype': args.dtype,
        'shape': {'frames': args.frames, 'width': args.width, 'height': args.height, 'steps': args.steps},
        'decode_chunk_size': args.decode_chunk_size,
        'runs': args.runs,
        'unet_step_ms': med('unet_step_ms'),
        'unet_calls_per_run': results[0]['unet_calls'],
        'vae_decode_ms': med('vae_decode_ms'),
        'clip_ms': med('clip_ms'),
        'vae_encode_ms': med('vae_encode_ms'),
        'load_ms': round(load_ms, 2),
        'threads': torch.get_num_threads(),
        'warmup': args.warmup,
        'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 2),
        'cpu_s': round(statistics.median(r['cpu_s'] for r in results), 2),
        'pipeline_ms': pipeline_ms,
        'video_ms': video,
        'total_s': round((pipeline_ms + (video or 0)) / 1000, 3),
        'torch_peak_gib': med('torch_peak_gib'),
        'attention': type(pipe.unet.attn_processors[next(iter(pipe.unet.attn_processors))]).__name__,
        'torch': torch.__version__,
        'note': video_note,
    }
    print(json.dumps(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
