#!/usr/bin/env bash
# Builds the Node package: the native module (the `dist` cargo profile, as shipped: fat LTO, no
# debug info, symbols kept for backtraces) and the loader and types napi writes beside it, all
# into bindings-node/native/ (not committed). `npm pack` then has everything.
#
# cargo builds into the workspace's target/x86_64-unknown-linux-gnu/dist (napi passes
# --target), which the rest of the workspace does not use: the first build takes ~3 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/napi ] || npm install --no-audit --no-fund
npx napi build --platform --profile dist --output-dir native
