#!/usr/bin/env bash
# Starts Ferry as a user would (npm start's entry, spawned nats-server, temp data folder) and runs the
# spec's own examples against it: ../shared/acceptance/spec-examples.sh. Needs /usr/bin/python3 with pandas.
set -euo pipefail
cd "$(dirname "$0")/.."
examples=../shared/acceptance/spec-examples.sh
if [ ! -f "$examples" ]; then echo "acceptance: $examples not found; skipped"; exit 0; fi
data=$(mktemp -d)
log="$data/ferry.out"
node cli/dist/main.js start --port 0 --nats-port 0 --host 127.0.0.1 --data "$data" --log-level warn >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(sed -n 's/^Ferry is up\. HTTP: \(http:[^ ]*\).*/\1/p' "$log")
  [ -n "$url" ] && break
  sleep 0.2
done
if [ -z "$url" ]; then echo "acceptance: Ferry did not start:"; cat "$log"; exit 1; fi
# One inference first, so that /logs has records to show.
curl -s -o /dev/null -X POST "$url/infer" -H "Content-Type: application/vnd.apache.arrow.file" --data-binary @models/data/houseprice.arrow
sleep 0.5
bash "$examples" "$url" models/data/houseprice.arrow
