#!/usr/bin/env bash
# Installs what Ferry needs when it is missing, then builds. Cheap to run again: it skips what is done.
#   - npm dependencies (npm ci; onnxruntime-node's CUDA download is skipped: its CPU runtime ships in the package)
#   - Debian's nats-server (apt-get when root; otherwise one line saying what to install)
#   - the TypeScript build (tsc -b, incremental)
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip
export PATH="$PATH:/usr/sbin"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ferry setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

if ! command -v nats-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ferry setup: installing Debian's nats-server (apt-get)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >&2
  else
    echo "ferry setup: nats-server is missing; install it with: sudo apt-get install -y nats-server" >&2
    exit 1
  fi
fi

node_modules/.bin/tsc -b
