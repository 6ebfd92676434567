#!/usr/bin/env python3
"""Convert a diffusers-format Stable Video Diffusion folder (SVD, SVD-XT, XT-1.1) into stillmotion's model
folder: image_encoder.onnx, vae_encoder.onnx, unet.onnx, vae_decoder.onnx and model.json.

    export_svd.py SRC --out DIR [--precision fp16|fp32] [--optimize-cuda] [--no-fuse]
    export_svd.py --random-weights [SRC] --out DIR ...    (the real SVD-XT architecture, random weights)
    export_svd.py SVD_XT_SRC --unet-weights AnimateLCM-SVD-xt.safetensors --out DIR ...   (AnimateLCM-SVD-xt)
    export_svd.py SRC --out DIR --text-encoder CLIP_DIR   (also the CLIP text tower, for the experimental steer)

The ONNX contract is the one of models/tiny (see models/export/README.md): every input and output is
float32 at the session boundary, with the same names and dynamic axes. --precision fp16 stores weights
and computes in float16 inside the graph (for CUDA); the VAE encoder stays float32 (force_upcast).
Attention is fused by default for every target (fuse_attention.py: each unfused attention becomes one
com.microsoft MultiHeadAttention, whose CPU kernel is a flash attention that never holds the score matrix);
--no-fuse keeps the exporter's MatMul/Softmax/MatMul, and model.json's `attention` records what was done.
torch, diffusers and transformers are imported only when a conversion runs, so --help needs none of them.
--unet-weights loads a UNet state dict (safetensors) strictly into the source's UNet architecture, as for
AnimateLCM-SVD-xt; model.json then names AnimateLCM's scheduler and its defaults (4 steps, guidance 1-1.2),
unless --scheduler euler says otherwise.
Set DIFFUSERS_SRC to a diffusers checkout's `src` folder to use it instead of an installed diffusers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

OPSET = 17
PARTS = ('image_encoder', 'vae_encoder', 'unet', 'vae_decoder')

# stabilityai/stable-video-diffusion-img2vid-xt, for --random-weights without a source folder.
# The UNet's values are also diffusers' defaults for UNetSpatioTemporalConditionModel.
SVD_XT_UNET = {
    'in_channels': 8, 'out_channels': 4, 'num_frames': 25, 'layers_per_block': 2,
    'block_out_channels': [320, 640, 1280, 1280], 'num_attention_heads': [5, 10, 20, 20],
    'cross_attention_dim': 1024, 'transformer_layers_per_block': 1,
    'addition_time_embed_dim': 256, 'projection_class_embeddings_input_dim': 768,
    'down_block_types': ['CrossAttnDownBlockSpatioTemporal'] * 3 + ['DownBlockSpatioTemporal'],
    'up_block_types': ['UpBlockSpatioTemporal'] + ['CrossAttnUpBlockSpatioTemporal'] * 3,
}
SVD_XT_VAE = {
    'in_channels': 3, 'out_channels': 3, 'latent_channels': 4, 'layers_per_block': 2,
    'block_out_channels': [128, 256, 512, 512], 'down_block_types': ['DownEncoderBlock2D'] * 4,
    'scaling_factor': 0.18215, 'force_upcast': True,
}
SVD_XT_CLIP = {  # OpenCLIP ViT-H/14 image tower with a 1024-d projection
    'hidden_size': 1280, 'intermediate_size': 5120, 'num_attention_heads': 16, 'num_hidden_layers': 32,
    'patch_size': 14, 'image_size': 224, 'projection_dim': 1024, 'hidden_act': 'gelu', 'layer_norm_eps': 1e-5,
}
SVD_SCHEDULER = {'sigma_min': 0.002, 'sigma_max': 700.0, 'prediction_type': 'v_prediction'}
# What model.json's `scheduler` holds for the stock checkpoints (the engine's Euler step), and the option
# defaults they were tuned for.
EULER = {'name': 'EulerDiscreteScheduler', **SVD_SCHEDULER}
EULER_DEFAULTS = {'steps': 25, 'guidance': [1.0, 3.0]}
# AnimateLCM-SVD-xt (wangfuyun/AnimateLCM-SVD-xt): SVD-XT's UNet distilled for a few steps, sampled with
# this consistency scheduler. The values are those of G-U-N/AnimateLCM's animatelcm_svd/app.py; the
# defaults are its demo's (4 steps, guidance 1 on the first frame to 1.2 on the last).
ANIMATELCM = {'name': 'AnimateLCMSVDStochasticIterativeScheduler', 'num_train_timesteps': 40, 'sigma_min': 0.002,
              'sigma_max': 700.0, 'sigma_data': 1.0, 's_noise': 1.0, 'rho': 7.0, 'clip_denoised': False}
ANIMATELCM_DEFAULTS = {'steps': 4, 'guidance': [1.0, 1.2]}
LICENSE_ANIMATELCM = ('UNet weights from wangfuyun/AnimateLCM-SVD-xt (AnimateLCM, a distillation of SVD-XT; see that '
                      'repository for its terms); the other parts and the base model are Stable Video Diffusion by '
                      'Stability AI, under the Stability AI Community License.')
# The EulerDiscreteScheduler config of the SVD checkpoints (for building a diffusers pipeline).
SVD_SCHEDULER_CONFIG = {
    **SVD_SCHEDULER, 'beta_start': 0.00085, 'beta_end': 0.012, 'beta_schedule': 'scaled_linear',
    'interpolation_type': 'linear', 'num_train_timesteps': 1000, 'steps_offset': 1, 'timestep_spacing': 'leading',
    'timestep_type': 'continuous', 'use_karras_sigmas': True,
}
LICENSE_REAL = ('Stable Video Diffusion weights by Stability AI, under the Stability AI Community License '
                '(accepted on the model hub before download). This folder is a format conversion of them.')
LICENSE_RANDOM = ('Random weights in the SVD-XT architecture, made by models/export/export_svd.py --random-weights '
                  'for benchmarks; no checkpoint licence applies. Its videos are noise.')


def log(msg: str) -> None:
    print(f'export_svd: {msg}', file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog='See models/export/README.md for the whole procedure.')
    p.add_argument('src', nargs='?', help='diffusers folder (model_index.json, unet/, vae/, image_encoder/, scheduler/)')
    p.add_argument('--out', required=True, help='output model folder (created; existing model files are replaced)')
    p.add_argument('--precision', choices=('fp16', 'fp32'), default='fp16',
                   help='fp16 for CUDA (default), fp32 for the CPU; the VAE encoder is always fp32')
    p.add_argument('--optimize-cuda', action='store_true',
                   help='fuse the UNet for onnxruntime CUDA (MultiHeadAttention, GroupNorm...); see optimize_cuda.py')
    p.add_argument('--route', choices=('auto', 'ort', 'rewrite'), default='auto', help='--optimize-cuda route')
    p.add_argument('--no-fuse', dest='fuse', action='store_false',
                   help='keep attention unfused (MatMul/Softmax/MatMul); the default fuses it for every target')
    p.add_argument('--random-weights', action='store_true',
                   help="the real architecture with random weights: configs from SRC if given, else SVD-XT's")
    p.add_argument('--device', choices=('auto', 'cuda', 'cpu'), default='auto', help='where torch traces the models')
    p.add_argument('--name', help='model.json name (default: the source folder name)')
    p.add_argument('--fps', type=int, help='fps the model was trained at (default 7; 6 for XT-1.1 folders)')
    p.add_argument('--motion', type=int, default=127, help='motion bucket the model was trained at')
    p.add_argument('--width', type=int, default=1024, help='native width for model.json (default 1024)')
    p.add_argument('--height', type=int, default=576, help='native height for model.json (default 576)')
    p.add_argument('--check', action='store_true', help='compare each fp32 export with torch on onnxruntime (CPU)')
    p.add_argument('--only', choices=PARTS + ('text_encoder',), action='append',
                   help='export only this part (repeatable)')
    p.add_argument('--text-encoder', metavar='DIR',
                   help='also export the text tower of laion/CLIP-ViT-H-14-laion2B-s32B-b79K (its transformers folder) '
                        'to text_encoder.onnx with its tokenizer, for the experimental steer option')
    p.add_argument('--bpe-vocab', metavar='FILE',
                   help="CLIP's bpe_simple_vocab_16e6.txt.gz (default: the one in the installed open-clip-torch)")
    p.add_argument('--unet-weights', metavar='FILE',
                   help='a .safetensors UNet state dict loaded strictly into the UNet (AnimateLCM-SVD-xt)')
    p.add_argument('--scheduler', choices=('auto', 'euler', 'animatelcm'), default='auto',
                   help="what model.json names: auto is animatelcm with --unet-weights, else SVD's euler")
    args = p.parse_args(argv)
    if args.unet_weights and not (args.unet_weights.endswith('.safetensors') and os.path.isfile(args.unet_weights)):
        p.error(f'--unet-weights needs an existing .safetensors file (got {args.unet_weights})')
    if args.scheduler == 'auto':
        args.scheduler = 'animatelcm' if args.unet_weights else 'euler'
    if not args.random_weights and not args.src and args.only != ['text_encoder']:
        p.error('give a diffusers folder, or --random-weights')
    if args.precision == 'fp32' and args.optimize_cuda:
        p.error('--optimize-cuda makes an fp16 CUDA model: use it with --precision fp16')
    if args.only and 'text_encoder' in args.only and (not args.text_encoder or len(args.only) > 1):
        p.error('--only text_encoder needs --text-encoder DIR, and is not combined with other parts')
    if args.optimize_cuda and not args.fuse:
        p.error('--optimize-cuda fuses the UNet: it cannot be combined with --no-fuse')
    return args


def read_config(src: str | None, sub: str, default: dict, optional: bool = False) -> dict:
    if not src or (optional and not os.path.isdir(os.path.join(src, sub))):
        return dict(default)
    for name in ('config.json', 'scheduler_config.json'):
        path = os.path.join(src, sub, name)
        if os.path.exists(path):
            with open(path) as f:
                return {k: v for k, v in json.load(f).items() if not k.startswith('_')}
    raise SystemExit(f'export_svd: {src}/{sub} has no config.json')


def weights_variant(src: str, sub: str) -> str | None:
    """The hub repos ship both fp32 and `.fp16.` files; use the fp16 ones only when they are all there is."""
    files = os.listdir(os.path.join(src, sub))
    plain = [f for f in files if re.match(r'(diffusion_pytorch_model|model)(-\d+-of-\d+)?\.(safetensors|bin)$', f)]
    halves = [f for f in files if '.fp16.' in f]
    return 'fp16' if not plain and halves else None


def build_models(args, torch, device: str = 'cpu'):
    """Load (or build with random weights, directly on `device`) the three networks, float32, eval mode."""
    if os.environ.get('DIFFUSERS_SRC'):
        sys.path.insert(0, os.environ['DIFFUSERS_SRC'])
    from diffusers import AutoencoderKLTemporalDecoder, UNetSpatioTemporalConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    unet = None
    if args.unet_weights:  # the architecture only (no memory, no init), then the file's tensors in place
        with torch.device('meta'):
            unet = UNetSpatioTemporalConditionModel(**read_config(args.src, 'unet', SVD_XT_UNET))
        load_unet_weights(torch, unet, args.unet_weights)
    if args.random_weights:
        torch.manual_seed(0)
        with torch.device(device):  # initialising 1.5 B parameters is much faster on the GPU
            unet = unet or UNetSpatioTemporalConditionModel(**read_config(args.src, 'unet', SVD_XT_UNET))
            vae = AutoencoderKLTemporalDecoder(**read_config(args.src, 'vae', SVD_XT_VAE))
            clip = CLIPVisionModelWithProjection(CLIPVisionConfig(**read_config(args.src, 'image_encoder', SVD_XT_CLIP)))
    else:
        src = args.src
        kw = lambda sub: {'subfolder': sub, 'variant': weights_variant(src, sub)}  # noqa: E731  (cast to fp32 below)
        unet = unet or UNetSpatioTemporalConditionModel.from_pretrained(src, **kw('unet'))
        vae = AutoencoderKLTemporalDecoder.from_pretrained(src, **kw('vae'))
        clip = CLIPVisionModelWithProjection.from_pretrained(src, **kw('image_encoder'))
    return clip.float().eval(), vae.float().eval(), unet.float().eval()


def load_unet_weights(torch, unet, path: str) -> None:
    """Loads a state dict strictly (every key, every shape) into `unet`, which may live on the meta device."""
    from safetensors.torch import load_file

    state = load_file(path)
    try:
        unet.load_state_dict(state, strict=True, assign=True)
    except RuntimeError as err:
        raise SystemExit(f'export_svd: {path} does not fit the UNet of this architecture: {err}') from err
    left = [n for n, t in [*unet.named_parameters(), *unet.named_buffers()] if t.is_meta]
    if left:
        raise SystemExit(f'export_svd: {path} left {len(left)} UNet tensors unset, e.g. {left[0]}')
    log(f'UNet weights from {path}: {len(state)} tensors')


def wrappers(torch, clip, vae, unet):
    """Modules whose forward is exactly the ONNX contract of each file."""
    nn = torch.nn

    class ImageEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.clip = clip

        def forward(self, pixel_values):
            return self.clip(pixel_values).image_embeds

    class VaeEncoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.vae = vae

        def forward(self, image):  # the latent distribution's mode, not scaled
            return self.vae.encode(image).latent_dist.mode()

    class VaeDecoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.vae = vae

        def forward(self, latent):  # latents already divided by the scaling factor; one temporal chunk
            return self.vae.decode(latent, num_frames=latent.shape[0]).sample

    class Unet(nn.Module):
        def __init__(self):
            super().__init__()
            self.unet = unet

        def forward(self, sample, timestep, encoder_hidden_states, added_time_ids):  # v-prediction
            return self.unet(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=False)[0]

    return {'image_encoder': ImageEncoder(), 'vae_encoder': VaeEncoder(), 'unet': Unet(), 'vae_decoder': VaeDecoder()}


def specs(torch, dev, dim: int):
    """Per part: sample inputs for tracing (small: every named axis is dynamic), names, dynamic axes."""
    r = lambda *s: torch.randn(*s, device=dev)  # noqa: E731
    h, w = 64, 128
    return {
        'image_encoder': ((r(1, 3, 224, 224),), ['pixel_values'], ['image_embeds'],
                          {'pixel_values': {0: 'batch'}, 'image_embeds': {0: 'batch'}}),
        'vae_encoder': ((r(1, 3, h, w),), ['image'], ['latent'],
                        {'image': {0: 'batch', 2: 'height', 3: 'width'},
                         'latent': {0: 'batch', 2: 'latent_height', 3: 'latent_width'}}),
        'unet': ((r(2, 4, 8, h // 8, w // 8), torch.tensor([0.5], device=dev), r(2, 1, dim),
                  torch.tensor([[6.0, 127.0, 0.02]] * 2, device=dev)),
                 ['sample', 'timestep', 'encoder_hidden_states', 'added_time_ids'], ['noise_pred'],
                 {'sample': {0: 'batch', 1: 'frames', 3: 'latent_height', 4: 'latent_width'},
                  'encoder_hidden_states': {0: 'batch'}, 'added_time_ids': {0: 'batch'},
                  'noise_pred': {0: 'batch', 1: 'frames', 3: 'latent_height', 4: 'latent_width'}}),
        'vae_decoder': ((r(3, 4, h // 8, w // 8),), ['latent'], ['frames'],
                        {'latent': {0: 'frames', 2: 'latent_height', 3: 'latent_width'},
                         'frames': {0: 'frames', 2: 'height', 3: 'width'}}),
    }


def export_fp32(torch, module, sample, ins, outs, axes, path: str, fuse: bool,
                temporal: dict | None = None) -> dict | None:
    """TorchScript exporter, opset 17, fp32; attention fused when `fuse`; the temporal Conv3d rewritten as
    Conv2d (temporal_conv.py) when `temporal` is a dict, which receives the count; written as one file (+ one
    .data file when over 2 GiB). Returns the fusion report (None when not fused)."""
    import onnx

    from fuse_attention import fuse_report
    from optimize_cuda import save
    from temporal_conv import rewrite_temporal_convs

    tmp = path + '.trace'
    os.makedirs(tmp, exist_ok=True)
    traced = os.path.join(tmp, 'model.onnx')
    with torch.no_grad():
        torch.onnx.export(module, sample, traced, input_names=ins, output_names=outs, dynamic_axes=axes,
                          opset_version=OPSET, do_constant_folding=True, dynamo=False)
    model = onnx.load(traced)
    report = fuse_report(model) if fuse else None
    if temporal is not None:
        temporal.update(rewrite_temporal_convs(model))
    save(model, path)
    del model
    shutil.rmtree(tmp)
    return report


def check(torch, module, sample, ins, path: str) -> float:
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    with torch.no_grad():
        ref = module(*sample).float().cpu().numpy()
    got = sess.run(None, {k: v.cpu().numpy() for k, v in zip(ins, sample)})[0]
    return float(np.abs(ref - got).max())


def attention_record(args, out: str, parts: dict) -> dict:
    """model.json's `attention`: how attention was fused and, per part, what the rewrite found. Parts not
    exported this time (--only) keep what an earlier run recorded."""
    previous = {}
    path = os.path.join(out, 'model.json')
    if args.only and os.path.exists(path):
        with open(path) as f:
            previous = json.load(f).get('attention', {}).get('parts', {})
    merged = {**previous, **parts}
    if not args.fuse:
        return {'fused': False, 'route': 'none', 'parts': {}}
    # CLIP's attention (transformers' pattern, 257 tokens: a few MB of scores) is not one the rewrite matches.
    left = sum(p['unfused_left'] for name, p in merged.items() if name != 'image_encoder')
    return {'fused': left == 0, 'route': 'rewrite', 'parts': merged}


def temporal_record(args, out: str, parts: dict) -> dict:
    """model.json's `temporal_convs`: per part, the Conv3d (k,1,1) rewritten as Conv2d (temporal_conv.py).
    Parts not exported this time (--only) keep what an earlier run recorded."""
    path = os.path.join(out, 'model.json')
    previous = {}
    if args.only and os.path.exists(path):
        with open(path) as f:
            previous = json.load(f).get('temporal_convs', {})
    return {**previous, **parts}


def write_model_json(args, out: str, files: dict, dtypes: dict, vae_cfg: dict, unet_cfg: dict, sched: dict,
                     attention: dict, text_encoder: dict | None = None, temporal: dict | None = None) -> dict:
    src_name = os.path.basename(os.path.normpath(args.src)) if args.src else 'svd-xt'
    is_11 = bool(re.search(r'1[-_.]1', src_name))
    weights = os.path.splitext(os.path.basename(args.unet_weights))[0] if args.unet_weights else None
    base = weights or src_name
    name = args.name or (f'{base} (random weights)' if args.random_weights else base)
    if args.scheduler == 'animatelcm':
        scheduler, defaults = dict(ANIMATELCM), ANIMATELCM_DEFAULTS
    else:
        scheduler, defaults = {**EULER, **{k: sched.get(k, v) for k, v in SVD_SCHEDULER.items()}}, EULER_DEFAULTS
    meta = {
        'name': name,
        'description': f'{src_name} exported by models/export/export_svd.py, {args.precision}'
                       + (f', UNet weights from {weights}' if weights else '')
                       + (', CUDA-optimised UNet' if args.optimize_cuda else '')
                       + '; every model input and output is float32.',
        'random_weights': bool(args.random_weights),
        'frames': int(unet_cfg.get('num_frames', 25)),
        'width': args.width,
        'height': args.height,
        'fps': args.fps or (6 if is_11 else 7),
        'motion': args.motion,
        'noise_aug_strength': 0.02,
        'vae_scaling_factor': float(vae_cfg.get('scaling_factor', 0.18215)),
        'scheduler': scheduler,
        'steps': defaults['steps'],
        'guidance': defaults['guidance'],
        'dtypes': dtypes,
        'files': files,
        'attention': attention,
        **({'temporal_convs': temporal} if temporal else {}),
        'license': LICENSE_RANDOM if args.random_weights else LICENSE_ANIMATELCM if weights else LICENSE_REAL,
    }
    if text_encoder:
        meta['text_encoder'] = text_encoder
    with open(os.path.join(out, 'model.json'), 'w') as f:
        json.dump(meta, f, indent=2)
        f.write('\n')
    return meta


def fit_preview(out: str) -> dict | None:
    """Fits the live-preview map (fit-preview.ts, onnxruntime-node) into model.json; None without Node."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fit-preview.ts')
    node = shutil.which('node')
    if not node:
        log(f'no node on PATH: run `node {script} {out}` later for live previews')
        return None
    r = subprocess.run([node, script, out, '--device', 'cpu'], capture_output=True, text=True)
    if r.returncode != 0:
        log(f'fit-preview failed (no live previews until it is run): {r.stderr.strip()}')
        return None
    return json.loads(r.stdout.strip().splitlines()[-1])


def export_text(torch, args, dev: str, report: dict) -> dict:
    """The CLIP text tower and its tokenizer (export_text_encoder.py); returns model.json's `text_encoder`."""
    from export_text_encoder import export_text_encoder

    t = time.time()
    text = export_text_encoder(torch, args, args.out, dev, export_fp32, check)
    report['parts']['text_encoder'] = {**text['report'], 'precision': 'fp32', 'seconds': round(time.time() - t, 1)}
    log(f"text_encoder: {report['parts']['text_encoder']}")
    return text['entry']


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    from optimize_cuda import optimize, save, to_fp16

    dev = 'cuda' if args.device == 'cuda' or (args.device == 'auto' and torch.cuda.is_available()) else 'cpu'
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    if args.only == ['text_encoder']:  # into an existing model folder: add the entry to its model.json
        report = {'parts': {}}
        meta_path = os.path.join(args.out, 'model.json')
        if not os.path.exists(meta_path):
            raise SystemExit(f'export_svd: --only text_encoder adds to an exported model folder; {meta_path} is missing')
        with open(meta_path) as f:
            meta = json.load(f)
        meta['text_encoder'] = export_text(torch, args, dev, report)
        with open(meta_path, 'w') as f:
            json.dump(meta, f, indent=2)
            f.write('\n')
        print(json.dumps({**report, 'out': args.out, 'seconds': round(time.time() - t0, 1)}))
        return 0
    clip, vae, unet = build_models(args, torch, dev)
    log(f'built models in {time.time() - t0:.0f} s; tracing on {dev}')
    clip, vae, unet = clip.to(dev), vae.to(dev), unet.to(dev)
    mods = wrappers(torch, clip, vae, unet)
    report = {'parts': {}}
    files, dtypes, attention, temporal_convs = {}, {}, {}, {}
    for part, (sample, ins, outs, axes) in specs(torch, dev, unet.config.cross_attention_dim).items():
        files[part] = f'{part}.onnx'
        dtypes[part] = 'float32'  # at the session boundary, always
        if args.only and part not in args.only:
            continue
        t = time.time()
        final = os.path.join(args.out, files[part])
        half = args.precision == 'fp16' and part != 'vae_encoder'
        fp32_path = final + '.fp32.onnx' if half else final
        optimized = half and part == 'unet' and args.optimize_cuda  # the optimizer route fuses on its own
        temporal: dict = {}
        fused = export_fp32(torch, mods[part], sample, ins, outs, axes, fp32_path, args.fuse and not optimized,
                            temporal)
        info: dict = {'export_s': round(time.time() - t, 1), **temporal}
        temporal_convs[part] = temporal['temporal_convs']
        if args.check:
            info['ort_vs_torch_maxabs'] = check(torch, mods[part], sample, ins, fp32_path)
        if optimized:
            info['optimize'] = optimize(fp32_path, final, route=args.route, fp16=True)
            opt = info['optimize']
            fused = {'route': opt['route'], 'unfused_left': opt['unfused_attention_left'],
                     'multi_head_attention': opt['ops'].get('MultiHeadAttention', 0)}
        elif half:
            import onnx

            save(to_fp16(onnx.load(fp32_path)), final)
        if half:
            os.remove(fp32_path)
            if os.path.exists(fp32_path + '.data'):
                os.remove(fp32_path + '.data')
        info['precision'] = 'fp16' if half else 'fp32'
        if fused is not None:
            info['attention'] = attention[part] = fused
        info['seconds'] = round(time.time() - t, 1)
        report['parts'][part] = info
        log(f'{part}: {info}')
    text_entry = export_text(torch, args, dev, report) if args.text_encoder and not args.only else None
    if text_entry is None and args.only and os.path.exists(os.path.join(args.out, 'model.json')):
        with open(os.path.join(args.out, 'model.json')) as f:  # keep a text encoder exported earlier
            text_entry = json.load(f).get('text_encoder')
    report['model'] = write_model_json(args, args.out, files, dtypes, dict(vae.config), dict(unet.config),
                                       read_config(args.src, 'scheduler', SVD_SCHEDULER_CONFIG, optional=True),
                                       attention_record(args, args.out, attention), text_entry,
                                       temporal_record(args, args.out, temporal_convs))
    if not args.only:
        report['preview'] = fit_preview(args.out)
    report['out'] = args.out
    report['seconds'] = round(time.time() - t0, 1)
    print(json.dumps(report))
    return 0


if __name__ == '__main__':
    sys.exit(main())
