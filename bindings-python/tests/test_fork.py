"""A client built (and used) before os.fork() works in the child, and still in the parent:
what gunicorn --preload and celery do to an app that builds its client at import."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

import turnout
from conftest import MESSAGES, Sim, client_kwargs, free_port

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def in_child(work: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Runs `work` in a forked child; returns what it returned (as JSON) or raises."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        try:
            result = {"ok": work()}
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            result = {"error": f"{type(e).__name__}: {e}"}
        os.write(write, json.dumps(result).encode())
        os.close(write)
        os._exit(0)
    os.close(write)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read)
            pytest.fail("the forked child hung")
        time.sleep(0.02)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    result = json.loads(data)
    if "error" in result:
        pytest.fail(f"the child failed: {result['error']}")
    return result["ok"]


def test_client_used_before_fork_works_in_child_and_parent(blue: Sim, green: Sim) -> None:
    client = turnout.Client(**client_kwargs(blue, green))
    assert client.chat.completions.create(model="m", messages=MESSAGES).route.environment == "blue"
    client.switch_to("green")

    def child() -> Any:
        routes = [
            client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": f"c{i}"}]
            ).route.environment
            for i in range(3)
        ]
        text = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        )
        return {"routes": routes, "active": client.status()["active"], "text": text, "pid": os.getpid()}

    got = in_child(child)
    # The child inherited the traffic state (green active) and could call.
    assert got["routes"] == ["green", "green", "green"]
    assert got["active"] == "green"
    assert got["text"].startswith("Echo: hello")
    assert got["pid"] != os.getpid()
    # The parent is unharmed.
    for _ in range(3):
        assert client.chat.completions.create(model="m", messages=MESSAGES).route.environment == "green"
    assert green.chat_count() == 3 + 1 + 3
    client.close()


def test_async_client_in_forked_child(blue: Sim, green: Sim) -> None:
    client = turnout.AsyncClient(**client_kwargs(blue, green))

    async def use() -> list[str]:
        results = await asyncio.gather(
            *(
                client.chat.completions.create(model="m", messages=MESSAGES, routing_key=str(i))
                for i in range(20)
            )
        )
        return [r.route.environment for r in results]

    assert asyncio.run(use()) == ["blue"] * 20
    assert in_child(lambda: asyncio.run(use())) == ["blue"] * 20
    assert asyncio.run(use()) == ["blue"] * 20


def test_callbacks_follow_into_the_child(blue: Sim, green: Sim) -> None:
    client = turnout.Client(**client_kwargs(blue, green))
    client.chat.completions.create(model="m", messages=MESSAGES)
    seen: list[str] = []
    client.on_event(lambda e: seen.append(e["type"]))

    def child() -> Any:
        client.switch_to("green")
        client.set_canary_weight(10)
        return seen

    assert in_child(child) == ["switch", "weight_changed"]
    assert seen == []  # the child's events stayed in the child
    client.close()


def test_grandchild(blue: Sim, green: Sim) -> None:
    client = turnout.Client(**client_kwargs(blue, green))
    client.chat.completions.create(model="m", messages=MESSAGES)

    def child() -> Any:
        client.chat.completions.create(model="m", messages=MESSAGES)
        return in_child(
            lambda: client.chat.completions.create(model="m", messages=MESSAGES).route.environment
        )

    assert in_child(child) == "blue"
    assert client.chat.completions.create(model="m", messages=MESSAGES).route.environment == "blue"
    client.close()


def test_client_built_in_child_after_parent_used_runtime(blue: Sim, green: Sim) -> None:
    warm = turnout.Client(**client_kwargs(blue, green))
    warm.chat.completions.create(model="m", messages=MESSAGES)

    def child() -> Any:
        with turnout.Client(**client_kwargs(blue, green)) as fresh:
            return fresh.chat.completions.create(model="m", messages=MESSAGES).route.environment

    assert in_child(child) == "blue"
    warm.close()


def test_fork_with_a_metrics_listener_keeps_version_checkpoints_and_rollout(blue: Sim, green: Sim) -> None:
    # gunicorn --preload with `metrics.listen` on a fixed port: the child used to rebuild its
    # client from the config, bind the parent's port, fail, and serve no request at all.
    port = free_port()
    client = turnout.Client(**client_kwargs(blue, green, metrics={"listen": f"127.0.0.1:{port}"}))
    client.chat.completions.create(model="m", messages=MESSAGES)
    checkpoint = client.checkpoint("before the rollout")
    client.start_rollout({"steps": [{"weight": 20}, {"weight": 100}], "interval": 3600})
    parent = client.status()
    assert parent["version"] > 1 and parent["rollout"]["state"] == "running"

    def child() -> Any:
        create = client.chat.completions.create
        routes = [
            create(model="m", messages=MESSAGES, routing_key=f"u{i}").route.environment for i in range(40)
        ]
        status = client.status()
        before_pause = client.rollout()
        return {
            "routes": routes,
            "traffic": [status["version"], status["salt"], status["canary_weight"]],
            "checkpoints": [c["id"] for c in client.checkpoints()],
            "rollout": [before_pause["id"], before_pause["state"], before_pause["weight"]],
            "paused": client.pause_rollout()["state"],
            "metrics_address": client.metrics_address(),
        }

    got = in_child(child)
    assert set(got["routes"]) == {"blue", "green"}, "the child routes with the rollout's weight"
    assert got["traffic"] == [parent["version"], parent["salt"], 20.0]
    assert checkpoint["id"] in got["checkpoints"]
    assert got["checkpoints"] == [c["id"] for c in client.checkpoints()]
    assert got["rollout"] == [parent["rollout"]["id"], "running", 20.0]
    assert got["paused"] == "paused"
    assert got["metrics_address"] is None, "the parent keeps the listener"
    # The parent still serves its metrics, and its rollout was not paused by the child's.
    import urllib.request

    assert client.metrics_address() == f"127.0.0.1:{port}"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert "turnout_requests_total" in resp.read().decode()
    assert client.rollout()["state"] == "running"
    client.close()
