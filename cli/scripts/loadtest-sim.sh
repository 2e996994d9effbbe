#!/usr/bin/env bash
# Runs `turnout loadtest` (release build) at 500 rps for 10 s against `turnout sim` injecting
# 5 % errors, both on loopback. Extra arguments go to the loadtest (e.g. --json).
set -euo pipefail
bin="${CARGO_TARGET_DIR:-$(dirname "$0")/../../target}/release/turnout"
dir=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" sim --port 0 --error-rate 0.05 --error-status 503 >"$dir/sim.log" 2>&1 &
sim=$!
for _ in $(seq 100); do
  grep -q "listening on" "$dir/sim.log" && break
  sleep 0.1
done
url=$(sed -n 's/.*listening on //p' "$dir/sim.log")
[ -n "$url" ] || { echo "the simulator did not start:"; cat "$dir/sim.log"; exit 2; } >&2
cat >"$dir/turnout.yaml" <<YAML
environments:
  blue: {base_url: "$url", api_key: sk-sim, label: v1}
  green: {base_url: "$url", api_key: sk-sim, label: v2}
YAML
"$bin" loadtest green --config "$dir/turnout.yaml" --model gpt-4.1-mini \
  --rps "${RPS:-500}" --duration "${DURATION:-10s}" --max-p99-ms 100 --max-error-rate 0.1 "$@"
