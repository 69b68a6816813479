# Ferry on Node 20 / Debian bookworm with Debian's current nats-server (>= 2.10, from a newer suite:
# scripts/nats-server.sh, the same pinned version and checksum as development and CI). No engine runs on
# the development machines, so this file mirrors the install steps that .ci/run proves (the nats-server
# script, npm ci with the onnxruntime download skipped, tsc -b and the dashboard's vite build); it is
# validated through compose.yaml, not built in CI.
FROM node:20-bookworm-slim
ENV PATH="$PATH:/usr/sbin" ONNXRUNTIME_NODE_INSTALL=skip FERRY_DATA=/data FERRY_HOST=0.0.0.0
WORKDIR /app
COPY scripts/nats-server.sh scripts/
RUN bash scripts/nats-server.sh && rm -rf .ferry/apt
COPY package.json package-lock.json .npmrc tsconfig.base.json tsconfig.json ./
COPY contracts/package.json contracts/
COPY runtime/package.json runtime/
COPY natsd/package.json natsd/
COPY inferer/package.json inferer/
COPY gateway/package.json gateway/
COPY logger/package.json logger/
COPY deployer/package.json deployer/
COPY client/package.json client/
COPY ops/package.json ops/
COPY link/package.json link/
COPY cli/package.json cli/
COPY ui/package.json ui/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build
VOLUME /data
EXPOSE 8080 4222 8090 7422
CMD ["node", "cli/dist/main.js", "start"]
