#!/usr/bin/env bash
# `make bench`: every benchmark under bench/ and core/benches, against the simulator (`turnout
# sim`, its own process) and once against Debian's nginx; writes BENCHMARKS.md.
#
#   bash bench/run.sh                 # everything (≈ 12 minutes on 2 cores once built)
#   BENCH_ONLY="select ttfc" bash bench/run.sh   # some steps only; the report uses what is in
#                                                # bench/out/ (results of earlier runs included)
#
# Steps: select decode criterion throughput lto ttfc failover rss instructions nginx python python_rss
# layers node proxy fleet lean. (lto: the throughput rounds once more with the dist profile, on the
# simulator, and on nginx when nginx runs.)
# Knobs: BENCH_ROUNDS (5), BENCH_SECS (2, per client per round), BENCH_REQUESTS (1000000, the
# RSS runs), BENCH_PY_REQUESTS (the Python RSS run; default BENCH_REQUESTS), BENCH_PY_ROUNDS /
# BENCH_PY_SECS (3 / 3), BENCH_NODE_ROUNDS / BENCH_NODE_SECS (3 / 3), BENCH_PROXY_ROUNDS /
# BENCH_PROXY_SECS / BENCH_PROXY_CONCURRENCY (3 / 2 / 16), VENV (.venv), BENCH_BINDINGS=keep (do
# not rebuild the Python and Node bindings: while developing a bench script only, never for
# figures that are meant to describe the code as it is).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/bench/out
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
VENV=${VENV:-$ROOT/.venv}
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECS:-2}
REQUESTS=${BENCH_REQUESTS:-1000000}
ONLY=${BENCH_ONLY:-select decode criterion throughput lto ttfc failover rss instructions nginx python python_rss layers node proxy fleet lean}
STARTED=$(date +%s)

mkdir -p "$OUT"
want() { [[ " $ONLY " == *" $1 "* ]]; }
say() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - STARTED))" >&2; }
# A free loopback port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits until something answers HTTP on $1 (a URL), $2 tenths of a second at most (100).
wait_http() {
  for _ in $(seq 1 "${2:-100}"); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "nothing answers on $1" >&2
  return 1
}

FAILED=()
# Marks a step as failed; the run goes on and the report says so.
fail() { echo "step $1 FAILED" >&2; FAILED+=("$1"); }

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

# --- machine facts ------------------------------------------------------------------------
say "machine"
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "rustc=$(rustc --version)"
  echo "loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/facts.txt"
cat "$OUT/facts.txt" >&2

# --- build --------------------------------------------------------------------------------
say "build (release: the simulator binary and the benches)"
cargo build --release -q -p turnout-cli
needs_benches() { for s in select decode criterion throughput ttfc failover rss instructions nginx layers; do want "$s" && return 0; done; return 1; }
if needs_benches; then
  cargo bench -q -p turnout-llm --no-run 2>&1 | grep -v '^ *Executable' >&2 || true
fi
TURNOUT_BIN=$TARGET/release/turnout
OVERHEAD=(cargo bench -q -p turnout-llm --bench overhead --)
# The same bench built as the wheel and the Node module are: the dist profile (fat LTO, one
# codegen unit), both clients alike.
OVERHEAD_LTO=(cargo bench -q -p turnout-llm --bench overhead --profile dist --)
if want lto; then
  say "build: the overhead bench with the dist profile (fat LTO)"
  cargo bench -q -p turnout-llm --bench overhead --profile dist --no-run 2>&1 | grep -v '^ *Executable' >&2 || true
fi

# --- the simulator, its own process -------------------------------------------------------
SIM_PORT=$(free_port)
"$TURNOUT_BIN" sim --port "$SIM_PORT" --name bench > "$OUT/sim.log" 2>&1 &
PIDS+=($!)
SIM_URL="http://127.0.0.1:$SIM_PORT/v1"
wait_http "$SIM_URL/models"
echo "simulator: $SIM_URL (pid ${PIDS[0]})" >&2

# --- criterion ----------------------------------------------------------------------------
CRIT=(--warm-up-time 1 --measurement-time 3 --noplot)
if want select; then
  say "criterion: routing decision"
  cargo bench -q -p turnout-llm --bench selection -- "${CRIT[@]}" 2>&1 | tee "$OUT/selection.txt" >&2 \
    || fail select
fi
if want decode; then
  say "criterion: decoding answers into the typed wire types"
  cargo bench -q -p turnout-llm --bench decode -- "${CRIT[@]}" 2>&1 | tee "$OUT/decode.txt" >&2 \
    || fail decode
fi
if want criterion; then
  say "criterion: chat c=64, raw reqwest vs turnout (simulator process)"
  TURNOUT_BENCH_URL=$SIM_URL cargo bench -q -p turnout-llm --bench throughput -- "${CRIT[@]}" 2>&1 \
    | tee "$OUT/criterion_throughput.txt" >&2 || fail criterion
fi

# --- paired runs (core/benches/overhead.rs) -----------------------------------------------
if want throughput; then
  say "throughput c=64 vs raw reqwest, simulator, $ROUNDS rounds"
  "${OVERHEAD[@]}" throughput --url "$SIM_URL" --label sim --rounds "$ROUNDS" --secs "$SECS" \
    | tee "$OUT/throughput_sim.jsonl" >&2 || fail throughput
fi
if want lto; then
  say "throughput c=64 vs raw reqwest, simulator, dist profile (fat LTO), $ROUNDS rounds"
  "${OVERHEAD_LTO[@]}" throughput --url "$SIM_URL" --label sim-lto --rounds "$ROUNDS" --secs "$SECS" \
    | tee "$OUT/throughput_sim_lto.jsonl" >&2 || fail lto
fi
if want ttfc; then
  say "streaming: time to first chunk vs raw reqwest, $ROUNDS rounds"
  "${OVERHEAD[@]}" ttfc --url "$SIM_URL" --rounds "$ROUNDS" --n 1000 | tee "$OUT/ttfc.jsonl" >&2 || fail ttfc
fi
if want failover; then
  say "failover: blue refuses connections, green is the simulator, $ROUNDS rounds"
  "${OVERHEAD[@]}" failover --url "$SIM_URL" --rounds "$ROUNDS" --n 2000 | tee "$OUT/failover.jsonl" >&2 \
    || fail failover
fi
if want rss; then
  say "RSS over $REQUESTS requests (Rust)"
  "${OVERHEAD[@]}" rss --url "$SIM_URL" --requests "$REQUESTS" --concurrency 64 | tee "$OUT/rss_rust.jsonl" >&2 \
    || fail rss
fi

# Instructions per request under callgrind: a noise-free view of the same overhead.
if want instructions; then
  rm -f "$OUT/instructions.jsonl"
  if command -v valgrind >/dev/null; then
    say "instructions per request (callgrind), raw / raw-url / turnout"
    BIN=$(cargo bench -q -p turnout-llm --bench overhead --no-run --message-format=json 2>/dev/null \
      | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "overhead":
        print(m["executable"])')
    for who in raw raw_url turnout; do
      # Only what runs inside a request's own future counts (turnout's work is all there; the
      # connection tasks both clients share are left out), warm-up included in the divisor.
      valgrind --tool=callgrind --callgrind-out-file=/dev/null --toggle-collect='*Target::call*' \
        "$BIN" throughput --url "$SIM_URL" \
        --only "$who" --secs 1000 --requests 10000 --concurrency 8 --allocs 2> "$OUT/callgrind_$who.log" \
        | python3 -c 'import json,sys,re
r = json.loads(sys.stdin.read().strip().splitlines()[-1])
ir = int(re.search(r"Collected : (\d+)", open(sys.argv[1]).read()).group(1))
calls = r["ok"] + r["warmup_ok"]
print(json.dumps({"mode": "instructions", "client": r["only"], "calls": calls, "instructions": ir, "per_call": ir / calls, "allocs_per_request": r["allocs_per_request"]}))' \
          "$OUT/callgrind_$who.log" | tee -a "$OUT/instructions.jsonl" >&2 || fail "instructions ($who)"
    done
  else
    echo "skipped: valgrind is not installed" >&2
  fi
fi

# --- nginx, a neutral upstream ------------------------------------------------------------
if want nginx; then
  say "nginx: throughput c=64 vs raw reqwest, $ROUNDS rounds"
  if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
    SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq nginx-light >/dev/null
  fi
  NGINX=$(command -v nginx || echo /usr/sbin/nginx)
  NGX_DIR=$(mktemp -d /tmp/turnout-bench-nginx.XXXXXX)
  NGX_PORT=$(free_port)
  sed -e "s|@DIR@|$NGX_DIR|g" -e "s|@PORT@|$NGX_PORT|g" bench/nginx.conf > "$NGX_DIR/nginx.conf"
  "$NGINX" -p "$NGX_DIR" -c "$NGX_DIR/nginx.conf" &
  NGX_PID=$!
  PIDS+=("$NGX_PID")
  NGX_URL="http://127.0.0.1:$NGX_PORT/v1"
  wait_http "$NGX_URL/models"
  "$NGINX" -v 2>&1 | sed 's/^/nginx=/' >> "$OUT/facts.txt"
  "${OVERHEAD[@]}" throughput --url "$NGX_URL" --label nginx --rounds "$ROUNDS" --secs "$SECS" \
    | tee "$OUT/throughput_nginx.jsonl" >&2 || fail nginx
  if want lto; then
    say "nginx: throughput c=64 vs raw reqwest, dist profile (fat LTO), $ROUNDS rounds"
    "${OVERHEAD_LTO[@]}" throughput --url "$NGX_URL" --label nginx-lto --rounds "$ROUNDS" --secs "$SECS" \
      | tee "$OUT/throughput_nginx_lto.jsonl" >&2 || fail lto
  fi
  kill "$NGX_PID" 2>/dev/null || true
  wait "$NGX_PID" 2>/dev/null || true
  rm -rf "$NGX_DIR"
fi

# --- Python -------------------------------------------------------------------------------
PY=$VENV/bin/python
PY_ROUNDS=${BENCH_PY_ROUNDS:-3}
PY_SECS=${BENCH_PY_SECS:-3}
PY_REQUESTS=${BENCH_PY_REQUESTS:-$REQUESTS}
python_ready() { [ -x "$PY" ] && "$PY" -c 'import turnout' 2>/dev/null; }
if want python || want python_rss || want layers || want proxy; then
  # Rebuilt every time, so that the figures are those of the code as it is.
  if [ -f bindings-python/scripts/build.sh ] && [ "${BENCH_BINDINGS:-}" != keep ]; then
    say "building the Python binding (the wheel, dist profile)"
    VENV=$VENV bash bindings-python/scripts/build.sh >&2 || echo "the Python build failed" >&2
  fi
fi
if want python; then
  rm -f "$OUT/python.txt"
  if [ -f bench/python_bench.py ] && python_ready; then
    if [ ! -x .venv-litellm/bin/python ]; then
      say "installing LiteLLM in .venv-litellm"
      { python3 -m venv .venv-litellm && .venv-litellm/bin/python -m pip install -q litellm; } >&2 \
        || echo "LiteLLM could not be installed; its comparison is skipped" >&2
    fi
    say "Python: turnout vs openai-python and LiteLLM Router, $PY_ROUNDS rounds"
    LITELLM_LOCAL_MODEL_COST_MAP=True "$PY" bench/python_bench.py "$SIM_URL" \
      --rounds "$PY_ROUNDS" --seconds "$PY_SECS" | tee "$OUT/python.txt" >&2 || fail python
  else
    echo "skipped: bench/python_bench.py or the turnout package in $VENV is missing" | tee "$OUT/python.txt" >&2
  fi
fi
if want python_rss; then
  rm -f "$OUT/rss_python.jsonl"
  if python_ready; then
    say "RSS over $PY_REQUESTS requests (Python)"
    "$PY" bench/python_rss.py --url "$SIM_URL" --requests "$PY_REQUESTS" | tee "$OUT/rss_python.jsonl" >&2 \
      || fail python_rss
  else
    echo "skipped: the turnout package is not installed in $VENV" >&2
  fi
fi

# Where a sequential Python call's time goes (bench/layers.py): the Rust figures are the
# sequential ones of the failover step (run here, one round, when that step is not wanted).
if want layers; then
  rm -f "$OUT/layers.jsonl" "$OUT/layers_rust.jsonl"
  if python_ready; then
    say "layers of a sequential Python call"
    RUST_SEQ=$OUT/failover.jsonl
    if ! want failover || [ ! -s "$RUST_SEQ" ]; then
      RUST_SEQ=$OUT/layers_rust.jsonl
      "${OVERHEAD[@]}" failover --url "$SIM_URL" --rounds 1 --n 2000 > "$RUST_SEQ" || fail "layers (rust)"
    fi
    "$PY" bench/layers.py "$SIM_URL" --rust "$RUST_SEQ" | tee "$OUT/layers.jsonl" >&2 || fail layers
  else
    fail "layers (python: the turnout package is not installed in $VENV)"
  fi
fi

# --- Node ---------------------------------------------------------------------------------
node_ready() { node -e "require('./bindings-node/lib/index.js')" 2>/dev/null; }
if want node || want proxy; then
  if [ -f bindings-node/scripts/build.sh ] && [ "${BENCH_BINDINGS:-}" != keep ]; then
    say "building the Node binding (dist profile)"
    { [ -d bindings-node/node_modules ] || (cd bindings-node && npm ci --no-audit --no-fund); } >&2 || true
    bash bindings-node/scripts/build.sh >&2 || echo "the Node build failed" >&2
  fi
fi
if want node; then
  rm -f "$OUT/node.txt"
  if [ -f bench/node_bench.mjs ] && node_ready; then
    say "Node: turnout vs openai-node, c=64"
    BENCH_ROUNDS=${BENCH_NODE_ROUNDS:-3} BENCH_SECS=${BENCH_NODE_SECS:-3} \
      node bench/node_bench.mjs "$SIM_URL" | tee "$OUT/node.txt" >&2 || fail node
  else
    echo "skipped: bench/node_bench.mjs or the built Node package is missing" | tee "$OUT/node.txt" >&2
  fi
fi

# --- the proxy hop: openai-python and openai-node through a proxy process vs turnout in-process
# Portkey's gateway (bench/proxy/package-lock.json) and LiteLLM's proxy (.venv-litellm), each
# started on loopback in front of the simulator. A proxy that cannot be installed or started is
# a failed step (`proxy (portkey)`, `proxy (litellm)`); the other proxy and the run go on.
if want proxy; then
  rm -f "$OUT/proxy_python.jsonl" "$OUT/proxy_node.jsonl" "$OUT/proxy_versions.txt"
  say "the proxy hop: starting Portkey's gateway and LiteLLM's proxy"
  PROXY_DIR=$(mktemp -d /tmp/turnout-bench-proxy.XXXXXX)
  PROXY_ARGS=()
  PK_PID="" LL_PID=""
  PORTKEY_JS=bench/proxy/node_modules/@portkey-ai/gateway/build/start-server.js
  if { [ -f "$PORTKEY_JS" ] || (cd bench/proxy && npm ci --no-audit --no-fund >&2); } && [ -f "$PORTKEY_JS" ]; then
    PK_PORT=$(free_port)
    node "$PORTKEY_JS" --port="$PK_PORT" --headless > "$OUT/portkey.log" 2>&1 &
    PK_PID=$!
    PIDS+=("$PK_PID")
    if wait_http "http://127.0.0.1:$PK_PORT/" 300; then
      PROXY_ARGS+=(--portkey "http://127.0.0.1:$PK_PORT/v1")
      echo "portkey=$(node -p "require('./bench/proxy/node_modules/@portkey-ai/gateway/package.json').version")" >> "$OUT/proxy_versions.txt"
    else
      fail "proxy (portkey: did not start, see bench/out/portkey.log)"
    fi
  else
    fail "proxy (portkey: npm ci in bench/proxy failed)"
  fi
  # The proxy in a venv of its own, pinned: the proxy extra of a LiteLLM release is a separate
  # package (`litellm-proxy`) that the registry does not always hold for the newest release
  # (1.110.2's was missing on 2026-11-30), and the Router comparison keeps its own version.
  LL_PROXY_VERSION=${BENCH_LITELLM_PROXY_VERSION:-1.108.7}
  LL_PY=.venv-litellm-proxy/bin/python
  [ -x "$LL_PY" ] || python3 -m venv .venv-litellm-proxy >&2 || true
  if [ -x "$LL_PY" ] && ! "$LL_PY" -c 'import litellm.proxy.proxy_server' 2>/dev/null; then
    say "installing litellm[proxy]==$LL_PROXY_VERSION in .venv-litellm-proxy"
    "$LL_PY" -m pip install -q --disable-pip-version-check "litellm[proxy]==$LL_PROXY_VERSION" >&2 || true
  fi
  if [ -x "$LL_PY" ] && "$LL_PY" -c 'import litellm.proxy.proxy_server' 2>/dev/null; then
    LL_PORT=$(free_port)
    sed -e "s|@UPSTREAM@|$SIM_URL|g" bench/litellm_proxy.yaml > "$PROXY_DIR/litellm.yaml"
    # LiteLLM refuses to start without a master key: a throwaway one, handed to the bench
    # scripts in the environment.
    export BENCH_LITELLM_KEY="sk-$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
    LITELLM_MASTER_KEY=$BENCH_LITELLM_KEY LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOG=ERROR \
      .venv-litellm-proxy/bin/litellm --config "$PROXY_DIR/litellm.yaml" --host 127.0.0.1 --port "$LL_PORT" \
      > "$OUT/litellm_proxy.log" 2>&1 &
    LL_PID=$!
    PIDS+=("$LL_PID")
    if wait_http "http://127.0.0.1:$LL_PORT/health/liveliness" 1200; then
      PROXY_ARGS+=(--litellm "http://127.0.0.1:$LL_PORT/v1")
      echo "litellm=$("$LL_PY" -c 'import importlib.metadata as m; print(m.version("litellm"))')" >> "$OUT/proxy_versions.txt"
    else
      fail "proxy (litellm: did not start, see bench/out/litellm_proxy.log)"
    fi
  else
    fail "proxy (litellm: litellm[proxy] could not be installed)"
  fi
  PROXY_ROUNDS=${BENCH_PROXY_ROUNDS:-3}
  PROXY_SECS=${BENCH_PROXY_SECS:-2}
  PROXY_C=${BENCH_PROXY_CONCURRENCY:-16}
  if python_ready; then
    say "the proxy hop, openai-python: ${PROXY_ARGS[*]:-no proxy}, $PROXY_ROUNDS rounds"
    "$PY" bench/proxy_bench.py "$SIM_URL" "${PROXY_ARGS[@]}" --rounds "$PROXY_ROUNDS" --seconds "$PROXY_SECS" \
      --concurrency "$PROXY_C" --out "$OUT/proxy_python.jsonl" >&2 || fail "proxy (python)"
  else
    fail "proxy (python: the turnout package is not installed in $VENV)"
  fi
  if node_ready; then
    say "the proxy hop, openai-node: ${PROXY_ARGS[*]:-no proxy}, $PROXY_ROUNDS rounds"
    BENCH_ROUNDS=$PROXY_ROUNDS BENCH_SECS=$PROXY_SECS BENCH_CONCURRENCY=$PROXY_C \
      node bench/proxy_bench.mjs "$SIM_URL" "${PROXY_ARGS[@]}" --out "$OUT/proxy_node.jsonl" >&2 || fail "proxy (node)"
  else
    fail "proxy (node: the Node package is not built)"
  fi
  for pid in $PK_PID $LL_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$PROXY_DIR"
fi

# --- the fleet: the counts' cost per request, and a CLI change across 20 processes --------
if want fleet; then
  rm -f "$OUT/fleet.jsonl"
  if command -v redis-server >/dev/null; then
    say "the fleet: counts recorded and flushed to Redis; a CLI change reaching 20 processes"
    FLEET_DIR=$(mktemp -d /tmp/turnout-bench-fleet.XXXXXX)
    RD_PORT=$(free_port)
    redis-server --port "$RD_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$FLEET_DIR" \
      > "$FLEET_DIR/redis.log" 2>&1 &
    RD_PID=$!
    PIDS+=("$RD_PID")
    TURNOUT_BENCH_REDIS="redis://127.0.0.1:$RD_PORT/" cargo bench -q -p turnout-llm --bench fleet -- \
      "${CRIT[@]}" 2>&1 | tee "$OUT/fleet_criterion.txt" >&2 || fail "fleet (criterion)"
    kill "$RD_PID" 2>/dev/null || true
    wait "$RD_PID" 2>/dev/null || true
    cargo test --release -q -p turnout-cli --test fleet -- --ignored --nocapture propagation 2>&1 \
      | tee "$OUT/fleet_propagation.txt" >&2 || fail "fleet (propagation)"
    grep '^{' "$OUT/fleet_propagation.txt" > "$OUT/fleet.jsonl" || fail "fleet (no propagation figures)"
    rm -rf "$FLEET_DIR"
  else
    fail "fleet (redis-server is not installed: make setup-system)"
  fi
fi

# --- lean builds: cold build time, dependencies and artefact sizes -----------------------
if want lean; then
  say "lean builds: the core crate cold, with and without default features"
  bash bench/lean.sh > "$OUT/lean.jsonl" || fail lean
fi

# --- report -------------------------------------------------------------------------------
ELAPSED=$(($(date +%s) - STARTED))
echo "bench_seconds=$ELAPSED" >> "$OUT/facts.txt"
echo "failed_steps=${FAILED[*]:-none}" >> "$OUT/facts.txt"
say "report"
python3 bench/report.py --out "$OUT" --target "$TARGET" --write BENCHMARKS.md
echo "make bench: BENCHMARKS.md written in ${ELAPSED}s" >&2
