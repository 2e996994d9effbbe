"""The proxy hop, Python side: openai-python through turnout in-process (its httpx transport)
against openai-python through a proxy process (Portkey's gateway, LiteLLM's proxy), all on the
same `turnout sim` upstream. Run by bench/run.sh (step `proxy`), which starts the proxies.

    .venv/bin/python bench/proxy_bench.py SIM_URL [--portkey URL] [--litellm URL]
        [--rounds 3] [--seconds 3] [--concurrency 16] [--out bench/out/proxy_python.jsonl]

Each route is configured alike: two deployments of the model on the upstream, half the calls
each, retries on. turnout: blue and green at 50 %, 3 attempts; Portkey: a `loadbalance` config
with two targets and `retry.attempts` 2, sent as `x-portkey-config`; LiteLLM: two deployments
in its config (bench/run.sh writes it). `direct` (openai-python straight to the upstream, no
routing at all) is the floor.

Per round, each route (order rotating) is measured sequentially (one sync client calling in a
loop) and concurrently (`AsyncOpenAI`, `--concurrency` asyncio workers); every call's latency
is kept. One JSON line per (round, route, mode); bench/report.py turns them into ratios and
added p50/p99. A route that fails its first call is reported once with its error and skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say something about proxies, briefly."},
]
KEY = "sk-bench-0000000000000000"


def percentile(sorted_ns: list[int], q: float) -> float:
    """The q-quantile (nearest rank) of sorted nanoseconds, in microseconds."""
    if not sorted_ns:
        return float("nan")
    i = min(len(sorted_ns) - 1, max(0, round(q * len(sorted_ns)) - 1))
    return sorted_ns[i] / 1000.0


def summary(latencies: list[int], elapsed: float, failed: int) -> dict[str, float]:
    lat = sorted(latencies)
    return {
        "calls_per_s": len(lat) / elapsed if elapsed > 0 else 0.0,
        "p50_us": percentile(lat, 0.50),
        "p99_us": percentile(lat, 0.99),
        "n": len(lat),
        "failed": failed,
    }


def sequential(call: Callable[[], Any], seconds: float) -> dict[str, float]:
    """One caller in a loop for `seconds`; every call timed."""
    lat: list[int] = []
    failed = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        try:
            call()
        except Exception:  # noqa: BLE001 - a failed call is counted, not timed
            failed += 1
            continue
        lat.append(time.perf_counter_ns() - t0)
    return summary(lat, time.perf_counter() - start, failed)


async def concurrent(call: Callable[[], Awaitable[Any]], seconds: float, workers: int) -> dict[str, float]:
    """`workers` asyncio tasks calling in a loop for `seconds`; every call timed."""
    lat: list[int] = []
    failed = 0
    end = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal failed
        while time.perf_counter() < end:
            t0 = time.perf_counter_ns()
            try:
                await call()
            except Exception:  # noqa: BLE001
                failed += 1
                continue
            lat.append(time.perf_counter_ns() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return summary(lat, time.perf_counter() - start, failed)


def portkey_config(upstream: str) -> str:
    """Two targets on the upstream, half the calls each, retries on: turnout's set-up."""
    target = {"provider": "openai", "custom_host": upstream, "api_key": KEY, "weight": 0.5}
    return json.dumps(
        {"strategy": {"mode": "loadbalance"}, "retry": {"attempts": 2}, "targets": [target, dict(target)]}
    )


class Route:
    """One way for openai-python to reach the upstream: its sync and async clients."""

    def __init__(self, name: str, sync: Any, aio: Any, close: Callable[[], None] | None = None) -> None:
        self.name = name
        self.sync = sync
        self.aio = aio
        self._close = close

    def call(self) -> Any:
        return self.sync.chat.completions.create(model=MODEL, messages=MESSAGES)

    def acall(self) -> Awaitable[Any]:
        return self.aio.chat.completions.create(model=MODEL, messages=MESSAGES)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.sync.close()
        if self._close:
            self._close()


def routes(args: argparse.Namespace) -> list[Route]:
    import httpx
    import openai

    import turnout

    upstream = args.upstream.rstrip("/")
    config: dict[str, Any] = dict(
        blue=turnout.Environment(upstream, api_key=KEY),
        green=turnout.Environment(upstream, api_key=KEY),
        canary_weight=50.0,
        retry=turnout.RetryPolicy(max_attempts=3),
    )
    sync_client = turnout.Client(**config)
    async_client = turnout.AsyncClient(**config)
    out = [
        Route(
            "turnout",
            openai.OpenAI(
                api_key="unused",
                base_url="http://turnout/v1",
                http_client=httpx.Client(transport=turnout.HttpxTransport(sync_client)),
            ),
            openai.AsyncOpenAI(
                api_key="unused",
                base_url="http://turnout/v1",
                http_client=httpx.AsyncClient(transport=turnout.AsyncHttpxTransport(async_client)),
            ),
            close=sync_client.close,
        ),
        Route(
            "direct",
            openai.OpenAI(api_key=KEY, base_url=upstream),
            openai.AsyncOpenAI(api_key=KEY, base_url=upstream),
        ),
    ]
    if args.portkey:
        headers = {"x-portkey-config": portkey_config(upstream)}
        base = args.portkey.rstrip("/")
        out.append(
            Route(
                "portkey",
                openai.OpenAI(api_key=KEY, base_url=base, default_headers=headers),
                openai.AsyncOpenAI(api_key=KEY, base_url=base, default_headers=headers),
            )
        )
    if args.litellm:
        base = args.litellm.rstrip("/")
        # The proxy's master key (LiteLLM refuses to start without one; run.sh makes one up).
        litellm_key = os.environ.get("BENCH_LITELLM_KEY", KEY)
        out.append(
            Route(
                "litellm",
                openai.OpenAI(api_key=litellm_key, base_url=base),
                openai.AsyncOpenAI(api_key=litellm_key, base_url=base),
            )
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("upstream", help="the simulator's /v1 URL")
    parser.add_argument("--portkey", help="Portkey's gateway /v1 URL")
    parser.add_argument("--litellm", help="LiteLLM's proxy /v1 URL (its master key in $BENCH_LITELLM_KEY)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="per route, per mode, per round")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", help="append the JSON lines to this file too")
    args = parser.parse_args()

    import openai

    sink = open(args.out, "a") if args.out else None  # noqa: SIM115 - closed below

    def emit(row: dict[str, Any]) -> None:
        line = json.dumps(row)
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    # One event loop for every round, so that the async clients keep their connections.
    loop = asyncio.new_event_loop()
    live: list[Route] = []
    for route in routes(args):
        try:
            route.call()
            loop.run_until_complete(route.acall())
        except Exception as err:  # noqa: BLE001 - a broken route is reported, the rest go on
            emit(
                {
                    "figure": "proxy",
                    "lang": "python",
                    "via": route.name,
                    "error": f"{type(err).__name__}: {err}"[:300],
                }
            )
            route.close()
            continue
        # Warm-up: connections, caches, lazy imports.
        sequential(route.call, min(1.0, args.seconds / 3))
        live.append(route)
    print(
        f"openai-python {openai.__version__}; routes {', '.join(r.name for r in live)}; "
        f"{args.rounds} round(s), {args.seconds:g} s per route and mode, concurrency {args.concurrency}",
        file=sys.stderr,
    )
    try:
        for rnd in range(args.rounds):
            order = live[rnd % len(live) :] + live[: rnd % len(live)] if live else []
            for route in order:
                seq = sequential(route.call, args.seconds)
                aio = loop.run_until_complete(concurrent(route.acall, args.seconds, args.concurrency))
                for mode, res in (("sequential", seq), ("concurrent", aio)):
                    emit(
                        {
                            "figure": "proxy",
                            "lang": "python",
                            "client": f"openai-python {openai.__version__}",
                            "round": rnd,
                            "via": route.name,
                            "mode": mode,
                            "concurrency": 1 if mode == "sequential" else args.concurrency,
                            **res,
                        }
                    )
    finally:
        for route in live:
            route.close()
        loop.close()
        if sink:
            sink.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
