"""Every example in examples/python/ runs against the simulators, so the docs cannot rot."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import BLUE_KEY, GREEN_KEY, REPO, Sim

EXAMPLES = REPO / "examples" / "python"


def run_example(name: str, blue: Sim, green: Sim, *args: str) -> str:
    env = dict(
        os.environ,
        TURNOUT_BLUE_URL=blue.url,
        TURNOUT_GREEN_URL=green.url,
        TURNOUT_BLUE_KEY=BLUE_KEY,
        TURNOUT_GREEN_KEY=GREEN_KEY,
    )
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert BLUE_KEY not in result.stdout and GREEN_KEY not in result.stdout
    return result.stdout


def test_blue_green_deploy(blue: Sim, green: Sim) -> None:
    out = run_example("blue_green_deploy.py", blue, green)
    assert "deploy: switched to green; verification traffic served by {'green': 20}" in out
    assert "rollback: active=blue" in out
    assert green.chat_count() == 20 and blue.chat_count() == 20


def test_blue_green_deploy_refuses_an_unhealthy_target(blue: Sim, green: Sim) -> None:
    green.faults(error_rate=1.0, error_status=503)
    env = dict(os.environ, TURNOUT_BLUE_KEY=BLUE_KEY, TURNOUT_GREEN_KEY=GREEN_KEY)
    result = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "blue_green_deploy.py"),
            "--blue",
            blue.url,
            "--green",
            green.url,
            "deploy",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "green is unhealthy" in result.stdout


def test_canary_rollout_rolls_back_then_promotes(blue: Sim, green: Sim) -> None:
    out = run_example("canary_rollout.py", blue, green, "--break-candidate")
    assert "phase 1: rollout rolled_back; active=blue canary_weight=0.0" in out
    assert "event: rollback: automatic rollback" in out
    assert "phase 2: rollout completed; active=green canary_weight=0.0" in out


def test_ab_split(blue: Sim, green: Sim) -> None:
    out = run_example("ab_split.py", blue, green, "--users", "20", "--requests", "3")
    assert "every user stayed on one side: True" in out
    assert "provider-a" in out and "provider-b" in out


def test_openai_drop_in(blue: Sim, green: Sim) -> None:
    pytest.importorskip("openai")
    out = run_example("openai_drop_in.py", blue, green)
    assert "chat: Echo: Hello from the official SDK" in out
    assert "stream: Echo: stream these words back" in out
    assert "an upstream 400 is openai's own BadRequestError: 400" in out
    assert "async: ['Echo: n0'" in out
