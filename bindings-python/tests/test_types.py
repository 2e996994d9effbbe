"""The type information shipped with the package: the native module's stub matches the
module (mypy.stubtest), and the public API type-checks as a user sees it (mypy --strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import turnout

HERE = Path(__file__).resolve().parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=HERE, timeout=300)


def test_stub_matches_the_native_module() -> None:
    result = run("-m", "mypy.stubtest", "turnout._turnout")
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_and_user_code_typecheck() -> None:
    package = run("-m", "mypy", "--strict", "--no-incremental", "-p", "turnout")
    assert package.returncode == 0, package.stdout + package.stderr
    sample = run("-m", "mypy", "--strict", "--no-incremental", str(HERE / "typing_sample.py"))
    assert sample.returncode == 0, sample.stdout + sample.stderr


def test_package_ships_its_types() -> None:
    package = Path(turnout.__file__).parent
    assert (package / "py.typed").exists()
    assert (package / "_turnout.pyi").exists()
