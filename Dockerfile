# stillmotion GPU sidecar (and, with ENGINE_URL, the bots beside it).
#
#   docker compose build && docker compose up
#
# Base: CUDA 12 + cuDNN 9 runtime, what onnxruntime-node 1.29's CUDA provider links against.
# Needs the NVIDIA Container Toolkit on the host (docker compose reserves one GPU for the sidecar).
ARG CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS node

FROM ${CUDA_IMAGE}
ENV DEBIAN_FRONTEND=noninteractive
# ffmpeg with libx264 for the MP4 encode; ca-certificates for the provider download at build time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*

# Node 24 from the official image (its binary runs on Ubuntu 24.04's newer glibc).
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && node --version

WORKDIR /app
COPY package.json package-lock.json ./
COPY engine/package.json engine/package.json
RUN npm ci --omit=dev --no-audit --no-fund \
 # The CUDA 12 execution provider for onnxruntime-node (libonnxruntime_providers_cuda.so).
 && ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install \
 && ls node_modules/onnxruntime-node/bin/napi-v6/linux/x64/ | grep -q providers_cuda \
 && npm cache clean --force

COPY . .

RUN mkdir -p /data /models && chown -R ubuntu:ubuntu /data
USER ubuntu

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data \
    SVD_DEVICE=cuda \
    SVD_MODEL_DIR=/app/models/tiny
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"

# tini forwards SIGTERM to node only (node stops between steps and puts the running job back in
# the queue; signalling the whole group would kill ffmpeg under it first) and reaps ffmpeg.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "src/main.ts"]
