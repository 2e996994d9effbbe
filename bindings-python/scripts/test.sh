#!/usr/bin/env bash
# Lints and tests the Python package (after scripts/build.sh): ruff, then pytest against
# `turnout sim` simulators (the tests start them with the `turnout` binary: build it first with
# `cargo build -p turnout-cli`, or point TURNOUT_BIN at one). Extra arguments go to pytest.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac

"$VENV/bin/ruff" check --config bindings-python/pyproject.toml bindings-python examples/python bench/python_bench.py
"$VENV/bin/ruff" format --check --config bindings-python/pyproject.toml bindings-python examples/python bench/python_bench.py
cd bindings-python
"$VENV/bin/python" -m pytest -q "$@"
