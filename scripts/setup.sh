#!/usr/bin/env bash
# Installs what Ferry needs when it is missing, then builds. Cheap to run again: it skips what is done.
#   - npm dependencies (npm ci; onnxruntime-node's CUDA download is skipped: its CPU runtime ships in the package)
#   - a current nats-server (>= 2.10) from Debian's newer suites into .ferry/ (scripts/nats-server.sh)
#   - never chromium: `npm run setup:browser` installs it for the dashboard's browser test
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

# The dashboard's browser test needs chromium, which this script never installs (it is 300 MB, and
# `npm test` must not apt-get as a side effect): `npm run setup:browser` does, and .ci/run runs it.
if [ "${npm_lifecycle_event:-}" = test ] && [ ! -x /usr/bin/chromium ]; then
  echo "ferry setup: /usr/bin/chromium is missing: the dashboard's browser test will be SKIPPED. Install it with: npm run setup:browser" >&2
fi

node_modules/.bin/tsc -b

# The dashboard is built by Vite, not tsc: rebuild it when any of its sources is newer than the page.
if [ ! -f ui/dist/index.html ] || [ -n "$(find ui/index.html ui/vite.config.ts ui/package.json ui/tsconfig*.json ui/src -newer ui/dist/index.html -print -quit)" ]; then
  echo "ferry setup: building the dashboard (vite build)" >&2
  npm run --silent build -w @ferry/ui >&2
fi
