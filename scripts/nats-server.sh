#!/usr/bin/env bash
# Puts a current nats-server (>= 2.10) where Ferry finds it: .ferry/nats-server/usr/sbin/nats-server.
# Bookworm's own package is 2.9.10, too old for `sync_interval` and compression; Debian's newer suites
# carry current ones. nats-server is one static Go binary (needs libc >= 2.34), so the newer package's
# binary runs on bookworm. apt fetches it from a private list of sources (the system's own sources and
# package lists are not touched) and checks it against Debian's signed index; nothing is installed.
#   - the pinned version (NATS_PIN, checked against NATS_SHA256) when Debian still offers it;
#   - otherwise the newest >= 2.10 that Debian carries, with a loud warning (a testing suite moves on);
#   - nothing when FERRY_NATS_SERVER is set or the copy is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

NATS_PIN=2.15.1-1
NATS_SHA256=31ef4ceaa84e8248d449e508472e3770c17c3695cb5cb0ee96e03912724ea884
SUITES="forky trixie"
MIRROR=http://deb.debian.org/debian
dest=.ferry/nats-server
bin=$dest/usr/sbin/nats-server

say() { echo "ferry setup: $*" >&2; }
current_enough() { # version text on stdin: is it >= 2.10?
  sed -n 's/.*v\?\([0-9]\+\)\.\([0-9]\+\)\.[0-9]\+.*/\1 \2/p' | head -1 | { read -r major minor && [ "$major" -gt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -ge 10 ]; }; }
}

if [ -n "${FERRY_NATS_SERVER:-}" ]; then
  "$FERRY_NATS_SERVER" --version | current_enough || { say "FERRY_NATS_SERVER=$FERRY_NATS_SERVER is older than 2.10"; exit 1; }
  exit 0
fi
if [ -x "$bin" ] && "$bin" --version | current_enough; then exit 0; fi

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  if command -v nats-server >/dev/null 2>&1 && nats-server --version | current_enough; then exit 0; fi
  say "Ferry needs nats-server 2.10 or newer (found: $(nats-server --version 2>/dev/null || echo none))."
  say "Run this script as root (bash scripts/nats-server.sh) to fetch Debian's current one into $dest,"
  say "or set FERRY_NATS_SERVER to a nats-server 2.10 or newer."
  exit 1
fi

apt_dir=$PWD/.ferry/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
: >"$apt_dir/sources.list"
for suite in $SUITES; do
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $suite main" >>"$apt_dir/sources.list"
done
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::Cache=$apt_dir/cache" -o Acquire::Languages=none -o APT::Sandbox::User=root -qq)
say "fetching Debian's package index for $SUITES (private apt lists in $apt_dir)"
apt-get "${apt_opts[@]}" update >&2

version=$NATS_PIN
if ! apt-cache "${apt_opts[@]}" madison nats-server | awk '{print $3}' | grep -qx "$NATS_PIN"; then
  version=$(apt-cache "${apt_opts[@]}" madison nats-server | awk '{print $3}' | sort -V | tail -1)
  if [ -z "$version" ] || ! echo "$version" | current_enough; then
    say "Debian offers no nats-server 2.10 or newer in $SUITES; set FERRY_NATS_SERVER to one"; exit 1
  fi
  say "!!! WARNING: the pinned nats-server $NATS_PIN is no longer offered by Debian; using $version instead."
  say "!!! Update NATS_PIN and NATS_SHA256 in scripts/nats-server.sh once this version has been tested."
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get "${apt_opts[@]}" download "nats-server=$version" >&2)
deb=$(ls "$work"/nats-server_*.deb)
sum=$(sha256sum "$deb" | cut -d' ' -f1)
if [ "$version" = "$NATS_PIN" ] && [ "$sum" != "$NATS_SHA256" ]; then
  say "nats-server_$version: sha256 $sum is not the pinned $NATS_SHA256"; exit 1
fi
rm -rf "$dest" && mkdir -p "$dest"
dpkg -x "$deb" "$dest"
"$bin" --version | current_enough
say "nats-server $version (sha256 $sum, verified by apt against Debian's signed index) is in $bin: $("$bin" --version)"
