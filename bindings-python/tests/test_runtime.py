"""The process' tokio runtime: its worker threads (``TURNOUT_RUNTIME_THREADS``, one by default)
and a clear error for a bad setting. Each case runs in a fresh interpreter: the runtime is built
once per process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import BLUE_KEY, Sim

# Makes one call, then prints how many of the process' threads are the runtime's workers.
CALL_AND_COUNT = """
import os, sys, turnout
env = turnout.Environment(sys.argv[1], api_key=sys.argv[2])
with turnout.Client(blue=env, green=turnout.Environment(sys.argv[1], api_key=sys.argv[2])) as c:
    c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    names = [open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")]
    print(names.count("turnout-rt"))
"""


def run(blue: Sim, threads: str | None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("TURNOUT_RUNTIME_THREADS", None)
    if threads is not None:
        env["TURNOUT_RUNTIME_THREADS"] = threads
    return subprocess.run(
        [sys.executable, "-c", CALL_AND_COUNT, blue.url, BLUE_KEY],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize(("setting", "workers"), [(None, 1), ("3", 3)])
def test_runtime_has_the_configured_worker_threads(blue: Sim, setting: str | None, workers: int) -> None:
    done = run(blue, setting)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == workers


@pytest.mark.parametrize("setting", ["0", "many", "-2", "100000"])
def test_bad_thread_setting_is_a_clear_error(blue: Sim, setting: str) -> None:
    done = run(blue, setting)
    assert done.returncode != 0
    assert "RuntimeError: TURNOUT_RUNTIME_THREADS must be a whole number from 1 to 256" in done.stderr
    assert "panicked" not in done.stderr
