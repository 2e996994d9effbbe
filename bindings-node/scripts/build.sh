#!/usr/bin/env bash
# Builds the Node package: the native module (release) and the loader and types napi writes
# beside it, all into bindings-node/native/ (not committed). `npm pack` then has everything.
#
# cargo builds into the workspace's target/x86_64-unknown-linux-gnu/release (napi passes
# --target), which the rest of the workspace does not use: the first build takes ~3 minutes.
# The workspace's release profile keeps debug info (for benchmarks' profiles); the packaged
# module drops it (70 MB → ~10 MB), keeping the symbols for backtraces.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/napi ] || npm install --no-audit --no-fund
npx napi build --platform --release --output-dir native
strip --strip-debug native/turnout.linux-x64-gnu.node
