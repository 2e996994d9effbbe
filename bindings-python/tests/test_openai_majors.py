"""test_openai_transport.py and test_openai_dropin.py again, under the other major of the
openai package (2.x uses httpx, 3.x httpx2), installed in its own venv by scripts/build.sh."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from conftest import REPO, turnout_bin

HERE = Path(__file__).resolve().parent
FILES = ["test_openai_transport.py", "test_openai_dropin.py"]
OTHER = {2: ".venv-openai3", 3: ".venv"}[int(openai.__version__.split(".")[0])]


def test_transport_under_the_other_openai_major() -> None:
    python = Path(os.environ.get("TURNOUT_OTHER_OPENAI_PYTHON", REPO / OTHER / "bin" / "python"))
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{python} is missing: run bindings-python/scripts/build.sh")
        pytest.skip(f"{python} is missing: run bindings-python/scripts/build.sh")
    version = subprocess.run(
        [str(python), "-c", "import openai; print(openai.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version.split(".")[0] != openai.__version__.split(".")[0], version
    env = dict(os.environ, TURNOUT_BIN=turnout_bin())
    run = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *[str(HERE / f) for f in FILES]],
        cwd=HERE.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    sys.stdout.write(run.stdout[-3000:])
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-3000:]
    assert " passed" in run.stdout and " failed" not in run.stdout
