#!/usr/bin/env bash
# Builds the stillmotion side of the device run, which has Node but no node_modules:
#   bench/tmp/bench.mjs             src/cli/bench.ts bundled with esbuild (onnxruntime-node and sharp left out:
#                                   onnxruntime-node comes from ORT_CUDA_NODE_MODULES, sharp from the next file)
#   bench/tmp/node_modules/         sharp and its libvips for linux-x64, resolved by bench.mjs next to it
# Carry "bench/tmp/bench.mjs" and "bench/tmp/node_modules"; run `node bench/tmp/bench.mjs --skip-video …`
# (the device image has no ffmpeg). `--check` runs the bundle here on the CPU first, as the device will.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=bench/tmp
mkdir -p "$out"
npx --yes esbuild@0.28.2 src/cli/bench.ts --bundle --platform=node --format=esm --target=node22 \
  --outfile="$out/bench.mjs" --external:onnxruntime-node --external:sharp --log-level=warning \
  --banner:js="import { createRequire as __smRequire } from 'node:module'; const require = __smRequire(import.meta.url);"
rm -rf "$out/node_modules" && mkdir -p "$out/node_modules/@img"
cp -r node_modules/sharp node_modules/detect-libc node_modules/semver "$out/node_modules/"
cp -r node_modules/@img/colour node_modules/@img/sharp-linux-x64 node_modules/@img/sharp-libvips-linux-x64 "$out/node_modules/@img/"
echo "bundle.sh: $(du -sh "$out/bench.mjs" | cut -f1) bench.mjs, $(du -sh "$out/node_modules" | cut -f1) node_modules" >&2

if [ "${1:-}" = "--check" ]; then
  # As on the device: no project node_modules in reach, onnxruntime-node from ORT_CUDA_NODE_MODULES.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/ort/node_modules" "$tmp/run/bench/tmp"
  cp -r node_modules/onnxruntime-node node_modules/onnxruntime-common "$tmp/ort/node_modules/"
  cp -r "$out/bench.mjs" "$out/node_modules" "$tmp/run/bench/tmp/"
  cp -r models "$tmp/run/"
  (cd "$tmp/run" && ORT_CUDA_NODE_MODULES="$tmp/ort/node_modules" \
    node bench/tmp/bench.mjs --model models/tiny --device cpu --frames 2 --steps 1 --skip-video)
fi
