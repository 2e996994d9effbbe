#!/usr/bin/env bash
# Runs bench/python_bench.py (after scripts/build.sh, with a release wheel and a release
# `turnout` binary: cargo build --release -p turnout-cli). Sets up .venv-litellm first.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
[ -x .venv-litellm/bin/python ] || "$PYTHON" -m venv .venv-litellm
.venv-litellm/bin/python -m pip install -q --disable-pip-version-check litellm
export LITELLM_LOCAL_MODEL_COST_MAP=True
"$VENV/bin/python" bench/python_bench.py "$@"
