#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser test (test/ui.test.ts): `npm run setup:browser`.
# Only this script (run by hand, or by .ci/run) installs it: `npm test` never does. Recommends are left
# out: chromium alone is what the test needs, not the 129 packages its recommends pull in.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  echo "ferry setup:browser: /usr/bin/chromium is installed" >&2
  exit 0
fi
install=(apt-get install -y -qq --no-install-recommends chromium)
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ferry setup:browser: run as root on Debian, or install chromium yourself: sudo ${install[*]}" >&2
  exit 1
fi
echo "ferry setup:browser: ${install[*]}" >&2
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${install[@]}" >&2
