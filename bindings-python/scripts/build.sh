#!/usr/bin/env bash
# Builds the turnout wheel and installs it in the project venv and in the openai-3.x venv,
# creating either venv when it is missing.
#
#   bash bindings-python/scripts/build.sh
#
# Environment: VENV (the project venv, default .venv), PYTHON (interpreter for new venvs,
# default python3), PROFILE=debug for a quicker, unoptimised wheel (default: the `dist` cargo
# profile, as shipped: fat LTO, no debug info).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
PROFILE="${PROFILE:-dist}"
OPENAI3_VENV="${OPENAI3_VENV:-.venv-openai3}"

venv() { # venv DIR REQUIREMENTS_FILE
    [ -x "$1/bin/python" ] || "$PYTHON" -m venv "$1"
    "$1/bin/python" -m pip install -q --disable-pip-version-check -r "$2"
}

venv "$VENV" bindings-python/requirements-dev.txt
venv "$OPENAI3_VENV" bindings-python/requirements-openai3.txt

rm -f target/wheels/turnout-*.whl
[ "$PROFILE" = "debug" ] && PROFILE=dev
"$VENV/bin/maturin" build --profile "$PROFILE" -m bindings-python/Cargo.toml
wheel="$(ls target/wheels/turnout-*.whl)"
for v in "$VENV" "$OPENAI3_VENV"; do
    "$v/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
done
echo "installed $wheel in $VENV and $OPENAI3_VENV"
