"""Where a sequential Python call's time goes: network and upstream, turnout's Rust core, and
the Python side (binding and package). Run by bench/run.sh (step `layers`).

    .venv/bin/python bench/layers.py SIM_URL --rust bench/out/failover.jsonl [--n 3000]

The same chat completion, one call at a time, on the same simulator, measured through layers:

- *raw socket*: the request's HTTP bytes, built once, written on a kept-alive socket and the
  answer read by its Content-Length — the loopback round trip plus the simulator's own work,
  with as little client as Python allows;
- *Rust, raw reqwest* and *Rust, turnout* (p50 of `overhead failover`'s `raw_green` and
  `turnout_green`: sequential Rust requests, read from `--rust`);
- *binding crossing*: a native call that does almost nothing (`turnout.bucket`), the fixed
  cost of entering Rust from Python;
- *Python, turnout*: `client.chat.completions.create(...)`, the whole call.

Each Python layer is measured in rounds, interleaved; p50 of all calls. The split printed:
network and upstream ≈ raw reqwest; core ≈ turnout − raw reqwest (Rust); Python side ≈ the
Python call − turnout in Rust, of which the crossing is one part. One JSON line at the end.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

KEY = "sk-bench-0000000000000000"
MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say something about layers, briefly."},
]


class RawHttp:
    """One kept-alive HTTP/1.1 connection sending the same pre-built request."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        body = json.dumps({"model": MODEL, "messages": MESSAGES}).encode()
        head = (
            f"POST {parts.path.rstrip('/')}/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {KEY}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.request = head.encode() + body
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def call(self) -> None:
        self.sock.sendall(self.request)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.split(b"\r\n")[0].decode(errors="replace"))
        while len(rest) < length:
            rest += self._recv()
        self.buf = rest[length:]

    def _recv(self) -> bytes:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the simulator closed the connection")
        return chunk

    def close(self) -> None:
        self.sock.close()


def timed(call, n: int) -> list[int]:
    """Nanoseconds of each of `n` calls."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        call()
        out.append(time.perf_counter_ns() - t0)
    return out


def rust_p50(path: Path) -> dict[str, float]:
    """Median over rounds of the Rust p50s (µs) in an `overhead failover` output."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
    return {
        name: statistics.median(r[name]["p50_us"] for r in rows) for name in ("raw_green", "turnout_green")
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", help="the simulator's /v1 URL")
    parser.add_argument("--rust", type=Path, help="`overhead failover` output (JSON lines)")
    parser.add_argument("--n", type=int, default=3000, help="calls per layer per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import turnout

    url = args.url.rstrip("/")
    raw = RawHttp(url)
    client = turnout.Client(
        blue=turnout.Environment(url, api_key=KEY),
        green=turnout.Environment(url, api_key=KEY),
        canary_weight=10.0,
    )

    def full() -> None:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)

    def crossing() -> None:
        turnout.bucket("rollout-7f3a", "user-42")

    layers = {"raw_socket": raw.call, "python_turnout": full, "binding_crossing": crossing}
    samples: dict[str, list[int]] = {name: [] for name in layers}
    try:
        for call in layers.values():
            timed(call, max(1, args.n // 10))  # warm-up
        for _ in range(args.rounds):
            for name, call in layers.items():
                samples[name] += timed(call, args.n)
    finally:
        raw.close()
        client.close()
    p50 = {name: statistics.median(v) / 1000.0 for name, v in samples.items()}
    result: dict[str, float | str] = {"figure": "layers", **{f"{k}_p50_us": v for k, v in p50.items()}}
    if args.rust and args.rust.exists():
        rust = rust_p50(args.rust)
        result["rust_raw_p50_us"] = rust["raw_green"]
        result["rust_turnout_p50_us"] = rust["turnout_green"]
        result["split_network_upstream_us"] = rust["raw_green"]
        result["split_core_us"] = rust["turnout_green"] - rust["raw_green"]
        result["split_python_side_us"] = p50["python_turnout"] - rust["turnout_green"]
    else:
        result["note"] = "no Rust figures (--rust missing): only the Python layers"
    for k, v in result.items():
        print(f"{k:32} {v:10.2f}" if isinstance(v, float) else f"{k:32} {v}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
