#!/usr/bin/env bash
# bench:gpu: stillmotion against diffusers' StableVideoDiffusionPipeline on one GPU, in one session.
#
#   bench/gpu/run.sh [--dry-run] [--phase all|export|bench]
#
# Device run (after ../shared/gpu/device-setup.sh; see bench/gpu/README.md):
#   1. export   random-weight SVD-XT (models/export/export_svd.py --random-weights --optimize-cuda, fp16),
#               and the tiny UNet through the same optimiser, checked on CUDA against the CPU;
#   2. bench    diffusers (fp16, SDPA, decode_chunk_size 8) and stillmotion (CUDA), 25 frames 1024x576,
#               25 steps, one warm-up then the median of 2, GPU memory sampled with nvidia-smi;
#   3. results  bench/results/<date>-<gpu>.json.
# --dry-run: the tiny architecture on the CPU, 128x64, 2 steps, everything written to a temp folder; the
# export and diffusers steps run when torch and diffusers can be imported, and are skipped otherwise.
#
# Environment: DIFFUSERS_SRC (a diffusers checkout's src folder, or a .tar.xz of it), PYTHON (default python3),
# BENCH_CMD (default "node src/cli/bench.ts"), WORK_DIR (default /tmp/bench-gpu, or a temp folder for
# --dry-run), RESULTS_DIR (default bench/results), VIDEO_MS (stillmotion's video step timed elsewhere,
# when the device has no ffmpeg), ROUTE (optimize_cuda route: rewrite (default)|auto|ort).
set -euo pipefail

dry=0
phase=all
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --phase) phase=${2:?--phase needs all, export or bench}; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case "$phase" in all|export|bench) ;; *) echo "run.sh: --phase must be all, export or bench" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
py=${PYTHON:-python3}
bench_cmd=${BENCH_CMD:-node src/cli/bench.ts}
# rewrite (attention only, ~2 min here on the full SVD-XT graph) by default: onnxruntime's optimizer
# (ROUTE=auto) fuses more but took 11 min on that graph here, too long for a 15-minute device session.
route=${ROUTE:-rewrite}
say() { echo "bench:gpu: $*" >&2; }

if [ "$dry" = 1 ]; then
  work=${WORK_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bench-gpu-dry.XXXXXX")}
  results=${RESULTS_DIR:-$work/results}
  device=cpu; dtype=fp32; frames=14; steps=2; width=128; height=64; config=bench/gpu/tiny-config
else
  work=${WORK_DIR:-/tmp/bench-gpu}
  results=${RESULTS_DIR:-$root/bench/results}
  device=cuda; dtype=fp16; frames=25; steps=25; width=1024; height=576; config=
fi
mkdir -p "$work"
say "work folder $work"

# DIFFUSERS_SRC may be a .tar.xz of diffusers' src folder (it packs to ~2 MB, so it can travel to the device).
if [ -n "${DIFFUSERS_SRC:-}" ] && [ -f "$DIFFUSERS_SRC" ]; then
  mkdir -p "$work/diffusers-src"
  tar xJf "$DIFFUSERS_SRC" -C "$work/diffusers-src"
  export DIFFUSERS_SRC=$work/diffusers-src
fi
[ -n "${DIFFUSERS_SRC:-}" ] && export DIFFUSERS_SRC=$(cd "$DIFFUSERS_SRC" && pwd)

have_torch=0
if "$py" -c 'import os, sys; sys.path.insert(0, os.environ.get("DIFFUSERS_SRC", "")); import torch, transformers, diffusers' 2>/dev/null; then
  have_torch=1
fi
[ "$dry" = 0 ] && [ "$have_torch" = 0 ] && { echo "run.sh: torch, transformers and diffusers (DIFFUSERS_SRC) are needed on the device" >&2; exit 1; }

model=$work/model
if [ "$phase" != bench ]; then
  t0=$(date +%s)
  if [ "$have_torch" = 1 ]; then
    if [ "$dry" = 1 ]; then
      "$py" models/export/export_svd.py "$config" --random-weights --precision fp32 --check \
        --width "$width" --height "$height" --out "$model" > "$work/export.json"
    else
      "$py" models/export/export_svd.py --random-weights --precision fp16 --optimize-cuda --route "$route" \
        --out "$model" > "$work/export.json"
    fi
  else
    say "no torch here: the dry run uses models/tiny as the exported model"
    rm -rf "$model" && cp -r models/tiny "$model"
    echo '{"skipped": "no torch"}' > "$work/export.json"
  fi
  # The optimiser on the tiny UNet, then the proof: same inputs, optimised vs original.
  if [ "$dry" = 1 ]; then
    "$py" models/export/optimize_cuda.py "$model/unet.onnx" "$work/unet-rewritten.onnx" --route rewrite --no-fp16 > "$work/optimize.json"
    node models/export/compare-models.ts "$model/unet.onnx" "$work/unet-rewritten.onnx" --tol 1e-4 > "$work/check.json"
  else
    "$py" models/export/optimize_cuda.py models/tiny/unet.onnx "$work/tiny-unet-cuda.onnx" --route "$route" > "$work/optimize.json"
    # fp16 on CUDA against fp32 on the CPU: bounded, not exact (see models/export/README.md).
    node models/export/compare-models.ts models/tiny/unet.onnx "$work/tiny-unet-cuda.onnx" --ep-b cuda --tol 5e-2 > "$work/check.json"
  fi
  say "export and check done in $(( $(date +%s) - t0 )) s: $(cat "$work/check.json")"
fi

if [ "$phase" != export ]; then
  [ -f "$model/model.json" ] || { echo "run.sh: no exported model in $model (run --phase export first)" >&2; exit 1; }
  if [ "$have_torch" = 1 ]; then
    say "diffusers: $frames frames ${width}x$height, $steps steps"
    "$py" bench/gpu/sample_vram.py "$work/diffusers-vram.json" -- \
      "$py" bench/gpu/diffusers_bench.py $config --device "$device" --dtype "$dtype" --frames "$frames" \
      --steps "$steps" --width "$width" --height "$height" --decode-chunk-size 8 --runs 2 > "$work/diffusers.json"
  else
    say "no torch here: diffusers skipped"
  fi
  # The device machine has no ffmpeg: leave the video encode out there and pass it in as VIDEO_MS.
  video_flag=()
  command -v ffmpeg >/dev/null 2>&1 || video_flag=(--skip-video)
  say "stillmotion: $bench_cmd --model $model --device $device ${video_flag[*]}"
  # shellcheck disable=SC2086  # BENCH_CMD is a command line
  "$py" bench/gpu/sample_vram.py "$work/stillmotion-vram.json" -- \
    $bench_cmd --model "$model" --device "$device" --frames "$frames" --steps "$steps" --runs 2 "${video_flag[@]}" > "$work/stillmotion.json"
  args=(--out-dir "$results" --stillmotion "$work/stillmotion.json" --stillmotion-vram "$work/stillmotion-vram.json"
        --export "$work/export.json")
  [ -f "$work/check.json" ] && args+=(--check "$work/check.json")
  [ -f "$work/diffusers.json" ] && args+=(--diffusers "$work/diffusers.json" --diffusers-vram "$work/diffusers-vram.json")
  [ -n "${VIDEO_MS:-}" ] && args+=(--video-ms "$VIDEO_MS")
  [ "$dry" = 1 ] && args+=(--dry-run)
  out=$("$py" bench/gpu/write_results.py "${args[@]}")
  say "wrote $out"
  cat "$out"
fi
