#!/usr/bin/env bash
# Installs what Ferry needs when it is missing, then builds. Cheap to run again: it skips what is done.
#   - npm dependencies (npm ci; onnxruntime-node's CUDA download is skipped: its CPU runtime ships in the package)
#   - a current nats-server (>= 2.10) from Debian's newer suites into .ferry/ (scripts/nats-server.sh)
#   - Debian's chromium, for the dashboard's browser test, under `npm test` only (apt-get when root)
#   - the TypeScript build (tsc -b, incremental), and the dashboard (vite build) when ui/dist is older than ui/
set -euo pipefail
cd "$(dirname "$0")/.."
export ONNXRUNTIME_NODE_INSTALL=skip
export PATH="$PATH:/usr/sbin"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ferry setup: installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# A current nats-server (>= 2.10) in .ferry/, fetched from Debian's newer suites (see the script).
bash scripts/nats-server.sh

# Only `npm test` needs a browser (test/ui.test.ts); `npm start` should not pull in 300 MB for it.
if [ "${npm_lifecycle_event:-}" = test ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ferry setup: installing Debian's chromium for the dashboard test (apt-get)" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
  else
    echo "ferry setup: chromium is missing, so the dashboard test will be skipped; install it with: sudo apt-get install -y chromium" >&2
  fi
fi

node_modules/.bin/tsc -b

# The dashboard is built by Vite, not tsc: rebuild it when any of its sources is newer than the page.
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/index.html ui/vite.config.ts ui/package.json ui/tsconfig*.json ui/src -newer ui/dist/index.html -print -quit)" ]; then
  echo "ferry setup: building the dashboard (vite build)" >&2
  npm run --silent build -w @ferry/ui >&2
fi
