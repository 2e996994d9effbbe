#!/usr/bin/env bash
# Tests of the Node package (run scripts/build.sh first): the binding's Rust unit tests, the
# types, then `node --test` against `turnout sim` simulators (conformance vectors, every
# method, streams, errors, the openai SDK through client.fetch, concurrency, the packed
# tarball, and every example in examples/node).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x node_modules/.bin/tsc ] || npm install --no-audit --no-fund

# The simulator binary the tests start (`turnout sim`); TURNOUT_BIN overrides it.
if [ -z "${TURNOUT_BIN:-}" ]; then
  (cd .. && cargo build -q -p turnout-cli)
  export TURNOUT_BIN="$PWD/../target/debug/turnout"
fi

cargo test -q -p turnout-node
npx tsc -p tsconfig.json
(cd ../examples/node && npm install --no-audit --no-fund)
node --test --test-concurrency=1 test/
