#!/usr/bin/env bash
# Lean builds: what the core crate costs to build and pull in, with its default features and
# with `--no-default-features`: the cold release build time of `turnout-llm` alone (a fresh
# target directory, dependencies included), and its dependency count (normal edges, distinct
# packages); then the sizes of the wheel and the Node module as built for release. Prints one
# JSON line per figure.
#
#   bash bench/lean.sh               # this tree; sizes of the artefacts `make bench` built
#   bash bench/lean.sh --rev REV     # REV in a temporary worktree, building its artefacts too
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
REV=""
[ "${1:-}" = "--rev" ] && REV=${2:?--rev needs a commit}
TREE=$ROOT
SCRATCH=$(mktemp -d /tmp/turnout-lean.XXXXXX)
cleanup() {
  [ -n "$REV" ] && git -C "$ROOT" worktree remove --force "$TREE" >/dev/null 2>&1 || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
if [ -n "$REV" ]; then
  TREE=$SCRATCH/tree
  git -C "$ROOT" worktree add --detach -q "$TREE" "$REV"
fi
cd "$TREE"
tree_name=${REV:-$(git rev-parse --short HEAD)}

deps() { # distinct packages the core crate depends on (normal edges), itself excluded
  cargo tree -q -p turnout-llm -e normal --prefix none "$@" | sed 's/ (\*)$//; s/ (proc-macro)$//' \
    | sort -u | grep -vc '^turnout-llm '
}
cold() { # seconds of a release build of the core crate alone, from nothing
  local dir=$SCRATCH/target-$1; shift
  local start; start=$(date +%s.%N)
  CARGO_TARGET_DIR=$dir cargo build -q --release -p turnout-llm "$@" >&2
  python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" "$start" "$(date +%s.%N)"
  rm -rf "$dir"
}
line() { python3 -c 'import json, sys; print(json.dumps(dict(a.split("=", 1) for a in sys.argv[1:])))' "$@"; }

line tree="$tree_name" features=default deps="$(deps)" cold_build_s="$(cold default)"
line tree="$tree_name" features=none deps="$(deps --no-default-features)" \
  cold_build_s="$(cold none --no-default-features)"

if [ -n "$REV" ]; then
  python3 -m venv "$SCRATCH/venv" >&2 && "$SCRATCH/venv/bin/pip" install -q maturin >&2
  CARGO_TARGET_DIR=$SCRATCH/target-art "$SCRATCH/venv/bin/maturin" build -q --release \
    -m bindings-python/Cargo.toml -o "$SCRATCH/wheels" >&2
  (cd bindings-node && npm install -q --no-audit --no-fund >&2 \
    && CARGO_TARGET_DIR=$SCRATCH/target-art npx napi build --platform --release --output-dir native >&2 \
    && strip --strip-debug native/turnout.linux-x64-gnu.node)
  WHEEL=$(ls "$SCRATCH"/wheels/turnout-*.whl)
else
  WHEEL=$(ls target/wheels/turnout-*.whl 2>/dev/null | head -1 || true)
fi
NODE=bindings-node/native/turnout.linux-x64-gnu.node
size() { [ -n "$1" ] && [ -f "$1" ] && stat -c %s "$1" || echo ""; }
line tree="$tree_name" wheel_bytes="$(size "$WHEEL")" node_bytes="$(size "$NODE")"
