"""Fixtures: simulators (`turnout sim` subprocesses on loopback) and clients wired to them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import turnout

REPO = Path(__file__).resolve().parents[2]

BLUE_KEY = "sk-blue-0123456789-SECRETBLUE"
GREEN_KEY = "sk-green-9876543210-SECRETGREEN"


def turnout_bin() -> str:
    """The `turnout` binary: $TURNOUT_BIN, else the newest of the workspace's builds."""
    env = os.environ.get("TURNOUT_BIN")
    if env:
        return env
    builds = [REPO / "target" / p / "turnout" for p in ("release", "debug")]
    builds = [b for b in builds if b.exists()]
    if not builds:
        pytest.exit("no turnout binary: run `cargo build -p turnout-cli` or set TURNOUT_BIN", returncode=2)
    return str(max(builds, key=lambda b: b.stat().st_mtime))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sim:
    """One `turnout sim` process."""

    def __init__(self, api_key: str | None = None, **flags: Any) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.url = f"{self.base}/v1"
        self.api_key = api_key
        args = [turnout_bin(), "sim", "--port", str(self.port)]
        if api_key:
            args += ["--api-key", api_key]
        for name, value in flags.items():
            args += [f"--{name.replace('_', '-')}", str(value)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.stats()
                break
            except OSError:
                if self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                    raise RuntimeError(f"turnout sim exited: {err}") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("turnout sim did not start within 15 s") from None
                time.sleep(0.02)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("content-type", "application/json")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def faults(self, **faults: Any) -> Any:
        """Replaces the injected faults (unnamed ones go back to none)."""
        return self._call("PUT", "/_sim/faults", faults)

    def stats(self) -> Any:
        return self._call("GET", "/_sim/stats")

    def requests(self) -> list[dict[str, Any]]:
        """The simulator's log of the requests it received, oldest first."""
        return list(self._call("GET", "/_sim/requests"))

    def reset(self) -> None:
        self.faults()
        self._call("POST", "/_sim/reset")

    def chat_count(self) -> int:
        return int(self.stats()["by_path"].get("/v1/chat/completions", 0))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture(scope="session")
def sims() -> Iterator[tuple[Sim, Sim]]:
    blue = Sim(api_key=BLUE_KEY)
    green = Sim(api_key=GREEN_KEY)
    yield blue, green
    blue.stop()
    green.stop()


@pytest.fixture
def blue(sims: tuple[Sim, Sim]) -> Sim:
    sims[0].reset()
    return sims[0]


@pytest.fixture
def green(sims: tuple[Sim, Sim]) -> Sim:
    sims[1].reset()
    return sims[1]


@pytest.fixture
def sim_factory() -> Iterator[Any]:
    """Starts extra simulators for one test."""
    started: list[Sim] = []

    def start(**kwargs: Any) -> Sim:
        sim = Sim(**kwargs)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def client_kwargs(blue: Sim, green: Sim, **overrides: Any) -> dict[str, Any]:
    """Constructor arguments for a client on the two simulators: no background probes (they
    would show in the simulators' counts), fast backoff."""
    kwargs: dict[str, Any] = dict(
        blue=turnout.Environment(blue.url, api_key=BLUE_KEY, label="v1"),
        green=turnout.Environment(green.url, api_key=GREEN_KEY, label="v2"),
        retry=turnout.RetryPolicy(initial_backoff=0.01, max_backoff=0.05),
        health_check=turnout.HealthCheck(enabled=False),
        timeout=10.0,
    )
    kwargs.update(overrides)
    return kwargs


@pytest.fixture
def client(blue: Sim, green: Sim) -> Iterator[turnout.Client]:
    with turnout.Client(**client_kwargs(blue, green)) as c:
        yield c


@pytest.fixture
async def aclient(blue: Sim, green: Sim) -> Any:
    async with turnout.AsyncClient(**client_kwargs(blue, green)) as c:
        yield c


MESSAGES = [{"role": "user", "content": "hello there general kenobi"}]


class SlowStream:
    """An upstream that streams 200 chunks, 20 ms apart, and notes when the client leaves."""

    def __init__(self) -> None:
        self.written = 0
        self.left = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                try:
                    for i in range(200):
                        chunk = {
                            "id": "c",
                            "object": "chat.completion.chunk",
                            "model": "slow",
                            "choices": [{"index": 0, "delta": {"content": f"w{i} "}}],
                        }
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                        self.wfile.flush()
                        outer.written += 1
                        time.sleep(0.02)
                    self.wfile.write(b"data: [DONE]\n\n")
                except OSError:
                    outer.left.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
