#!/usr/bin/env bash
# A fleet rollout from a CI job, for real: redis-server, two simulators, three app processes
# (the test app `turnout-fleet-app`) and the `turnout` CLI. Prints every command and its output
# (docs/fleet.md shows one run) and two measurements: how long a failing candidate takes to be
# rolled back fleet-wide, and how long the analyst lease takes to move after a SIGKILL.
#
# Usage: bash bench/fleet_rollout.sh [TARGET_DIR]   (needs a debug build: cargo build -p turnout-cli)
set -euo pipefail
BIN=${1:-${CARGO_TARGET_DIR:-target}}/debug
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${KEEP:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT
debug() { for i in 1 2 3; do echo "--- app $i"; tail -3 "$WORK/out$i"; done; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
now() { date +%s.%N; }
run() { echo "\$ $*"; "$@"; echo "(exit $?)"; }

REDIS=$(free_port); BLUE=$(free_port); GREEN=$(free_port)
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --dir "$WORK" >/dev/null & PIDS+=($!)
"$BIN/turnout" sim --port "$BLUE" --latency-ms 20 >/dev/null 2>&1 & PIDS+=($!)
"$BIN/turnout" sim --port "$GREEN" --latency-ms 20 >/dev/null 2>&1 & PIDS+=($!)
wait_port "$REDIS"; wait_port "$BLUE"; wait_port "$GREEN"

export TURNOUT_CONFIG=$WORK/turnout.yaml USER=ci
cat > "$TURNOUT_CONFIG" <<YAML
environments:
  blue: {base_url: "http://127.0.0.1:$BLUE/v1", api_key: "sk-blue-demo", label: v1}
  green: {base_url: "http://127.0.0.1:$GREEN/v1", api_key: "sk-green-demo", label: v2}
health_check: {enabled: false}
state: {backend: redis, url: "redis://127.0.0.1:$REDIS/", namespace: checkout, lease_ttl: 3}
YAML

# Three app instances, each fed commands through a fifo.
for i in 1 2 3; do
  mkfifo "$WORK/in$i"
  "$BIN/turnout-fleet-app" "$TURNOUT_CONFIG" "web-$i" < "$WORK/in$i" > "$WORK/out$i" 2>/dev/null & PIDS+=($!)
  APP[$i]=$!
  exec {fd}>"$WORK/in$i"; FD[$i]=$fd
done
traffic() { for i in 1 2 3; do echo "requests $1" >&"${FD[$i]}" 2>/dev/null || true; done; }
until grep -q lease_acquired "$WORK"/out* 2>/dev/null; do sleep 0.1; done
# Steady traffic from every instance, as a live service has.
(trap 'exit 0' PIPE; while true; do traffic 10; sleep 1; done) 2>/dev/null & PIDS+=($!)

echo "## 1. The state before the release"
run "$BIN/turnout" status
echo "## 2. The CI job starts the rollout and waits for its verdict"
run "$BIN/turnout" rollout start --steps 10,50,100 --hold 4s --min-requests 20 \
  --max-error-rate 0.05 --max-p99-ms 500 --interval 1s
sleep 3
run "$BIN/turnout" rollout status
run "$BIN/turnout" rollout wait --timeout 2m || { debug; exit 1; }
run "$BIN/turnout" history --limit 6

echo "## 3. A bad release: green fails 30 % of its requests"
run "$BIN/turnout" switch blue
kill "${PIDS[2]}"; "$BIN/turnout" sim --port "$GREEN" --latency-ms 20 --error-rate 0.3 >/dev/null 2>&1 & PIDS+=($!)
wait_port "$GREEN"
sleep 1.1  # the fleet's buckets are whole seconds: let green's second as the active side pass
sent=$(now)
run "$BIN/turnout" rollout start --steps 10,50,100 --hold 4s --min-requests 20 --max-error-rate 0.05 \
  --gate-min-requests 20 --interval 1s --failure-limit 0 --json
run "$BIN/turnout" rollout wait --timeout 1m || true
until "$BIN/turnout" status --json | grep -q '"canary_weight":0.0'; do sleep 0.01; done
echo "measured: rollout of the failing candidate started → fleet-wide weight 0 in $(echo "$(now) - $sent" | bc) s (interval 1 s, flush 1 s)"
run "$BIN/turnout" rollout status

run "$BIN/turnout" history --limit 3
echo "## 4. The analyst is killed with SIGKILL"
holder=$("$BIN/turnout" rollout status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["analyst"])')
i=${holder#web-}; kill -9 "${APP[$i]}"; killed=$(now)
until h=$("$BIN/turnout" rollout status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["analyst"])'); [ -n "$h" ] && [ "$h" != "$holder" ] && [ "$h" != "None" ]; do sleep 0.02; done
echo "measured: lease moved from $holder to $h in $(echo "$(now) - $killed" | bc) s (lease_ttl 3 s)"
