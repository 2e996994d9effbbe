"""Python benchmark: turnout vs openai-python vs LiteLLM's Router, same simulators, one run.

Measures chat-completion calls per second, sequential (one sync caller) and with asyncio at
concurrency 64, against two `turnout sim` processes on loopback. turnout and LiteLLM are
configured alike: two deployments (turnout: blue and green at 50 %, LiteLLM: two deployments of
the model), 3 attempts (LiteLLM: num_retries=2), and a model fallback gpt-4o-mini → gpt-4o.
openai-python talks to one simulator with its default 2 retries.

    bash bindings-python/scripts/bench.sh           # sets up .venv-litellm, then runs this
    .venv/bin/python bench/python_bench.py [URL] [--seconds 5] [--rounds 1] [--json out.json]

With URL (a running `turnout sim`'s /v1), both environments and both LiteLLM deployments use
it; without, two simulators are started. The last line printed is a JSON summary (calls/s per
round, turnout's ratios) that bench/report.py reads.

LiteLLM runs in its own venv (.venv-litellm, LITELLM_LOCAL_MODEL_COST_MAP=True since there is
no network): this script calls itself there with `--part litellm`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODEL = "gpt-4o-mini"
MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Say something about benchmarks, briefly."},
]
KEY = "sk-bench-0000000000000000"


# --- measuring ---------------------------------------------------------------------------


def sequential(call: Callable[[], Any], seconds: float) -> float:
    """Calls per second of `call` in a loop, after a short warm-up."""
    warm = time.perf_counter() + min(1.0, seconds / 5)
    while time.perf_counter() < warm:
        call()
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while True:
        call()
        n += 1
        now = time.perf_counter()
        if now >= end:
            return n / (now - start)


async def concurrent(call: Callable[[], Awaitable[Any]], seconds: float, concurrency: int) -> float:
    """Calls per second with `concurrency` asyncio workers calling in a loop."""
    stop_at = 0.0
    count = 0

    async def worker() -> None:
        nonlocal count
        while time.perf_counter() < stop_at:
            await call()
            count += 1

    stop_at = time.perf_counter() + min(1.0, seconds / 5)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    count = 0
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


# --- contenders --------------------------------------------------------------------------


def bench_turnout(blue: str, green: str, seconds: float, concurrency: int) -> dict[str, float]:
    import turnout

    config: dict[str, Any] = dict(
        blue=turnout.Environment(blue, api_key=KEY),
        green=turnout.Environment(green, api_key=KEY),
        canary_weight=50.0,
        retry=turnout.RetryPolicy(max_attempts=3),
        model_fallbacks={MODEL: ["gpt-4o"]},
    )
    with turnout.Client(**config) as client:
        seq = sequential(lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES), seconds)

    async def run() -> float:
        async with turnout.AsyncClient(**config) as aclient:
            return await concurrent(
                lambda: aclient.chat.completions.create(model=MODEL, messages=MESSAGES), seconds, concurrency
            )

    return {"sequential": seq, "asyncio": asyncio.run(run())}


def bench_openai(blue: str, seconds: float, concurrency: int) -> dict[str, float]:
    import openai

    with openai.OpenAI(api_key=KEY, base_url=blue, max_retries=2) as client:
        seq = sequential(lambda: client.chat.completions.create(model=MODEL, messages=MESSAGES), seconds)  # type: ignore[arg-type]

    async def run() -> float:
        async with openai.AsyncOpenAI(api_key=KEY, base_url=blue, max_retries=2) as aclient:
            return await concurrent(
                lambda: aclient.chat.completions.create(model=MODEL, messages=MESSAGES),  # type: ignore[arg-type]
                seconds,
                concurrency,
            )

    async def run_c8() -> float:
        # openai-python's httpx pool degrades badly at high concurrency on this kind of
        # machine; its figure at concurrency 8 is shown too, for fairness.
        async with openai.AsyncOpenAI(api_key=KEY, base_url=blue, max_retries=2) as aclient:
            return await concurrent(
                lambda: aclient.chat.completions.create(model=MODEL, messages=MESSAGES),  # type: ignore[arg-type]
                seconds,
                8,
            )

    return {
        "sequential": seq,
        "asyncio": asyncio.run(run()),
        "asyncio_c8": asyncio.run(run_c8()),
        "version": openai.__version__,  # type: ignore[dict-item]
    }


def bench_litellm(blue: str, green: str, seconds: float, concurrency: int) -> dict[str, Any]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm
    from litellm import Router

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    deployments = [
        {"model_name": name, "litellm_params": {"model": f"openai/{name}", "api_base": base, "api_key": KEY}}
        for name in (MODEL, "gpt-4o")
        for base in (blue, green)
    ]
    router = Router(
        model_list=deployments,
        num_retries=2,
        fallbacks=[{MODEL: ["gpt-4o"]}],
        routing_strategy="simple-shuffle",
    )
    seq = sequential(lambda: router.completion(model=MODEL, messages=MESSAGES), seconds)

    async def run() -> float:
        return await concurrent(
            lambda: router.acompletion(model=MODEL, messages=MESSAGES), seconds, concurrency
        )

    return {"sequential": seq, "asyncio": asyncio.run(run()), "version": litellm_version()}


def litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


# --- simulators --------------------------------------------------------------------------


def turnout_bin() -> str:
    if os.environ.get("TURNOUT_BIN"):
        return os.environ["TURNOUT_BIN"]
    release = ROOT / "target" / "release" / "turnout"
    if release.exists():
        return str(release)
    sys.exit("no release turnout binary: cargo build --release -p turnout-cli (or set TURNOUT_BIN)")


def start_sim() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [turnout_bin(), "sim", "--port", str(port), "--api-key", KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(500):
        try:
            urllib.request.urlopen(f"{base}/_sim/stats", timeout=1).read()
            return proc, f"{base}/v1"
        except OSError:
            time.sleep(0.02)
    proc.kill()
    sys.exit("turnout sim did not start")


# --- main --------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("url", nargs="?", help="a running simulator's /v1 URL (else two are started)")
    parser.add_argument(
        "--seconds",
        type=float,
        default=float(os.environ.get("BENCH_SECS", 5)),
        help="length of each measurement",
    )
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 1)))
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--litellm-python", default=str(ROOT / ".venv-litellm" / "bin" / "python"))
    parser.add_argument("--part", choices=["all", "litellm"], default="all", help=argparse.SUPPRESS)
    parser.add_argument("--blue", help=argparse.SUPPRESS)
    parser.add_argument("--green", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.part == "litellm":
        print(json.dumps(bench_litellm(args.blue, args.green, args.seconds, args.concurrency)))
        return 0

    sims: list[subprocess.Popen[bytes]] = []
    if args.url:
        blue = green = args.url.rstrip("/")
    else:
        (p1, blue), (p2, green) = start_sim(), start_sim()
        sims = [p1, p2]
    has_litellm = Path(args.litellm_python).exists()
    if not has_litellm:
        print(f"no {args.litellm_python}: LiteLLM skipped (bindings-python/scripts/bench.sh sets it up)")
    figures: dict[str, dict[str, list[float]]] = {
        name: {"sequential": [], "asyncio": []} for name in ("turnout", "openai", "litellm")
    }
    versions: dict[str, str] = {}
    openai_c8: list[float] = []
    try:
        print(f"upstreams {blue} and {green}; {args.rounds} round(s) of {args.seconds:g} s per measurement")
        for r in range(args.rounds):
            t = bench_turnout(blue, green, args.seconds, args.concurrency)
            o = bench_openai(blue, args.seconds, args.concurrency)
            versions["openai"] = str(o.pop("version"))
            openai_c8.append(float(o.pop("asyncio_c8")))
            rows = [("turnout", t), ("openai", o)]
            if has_litellm:
                env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True")
                command = [
                    args.litellm_python,
                    __file__,
                    "--part",
                    "litellm",
                    "--blue",
                    blue,
                    "--green",
                    green,
                ]
                command += ["--seconds", str(args.seconds), "--concurrency", str(args.concurrency)]
                out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
                if out.returncode == 0:
                    lite = json.loads(out.stdout.strip().splitlines()[-1])
                    versions["litellm"] = str(lite.pop("version"))
                    rows.append(("litellm", lite))
                else:
                    print(f"litellm failed:\n{out.stderr[-3000:]}", file=sys.stderr)
            for name, result in rows:
                for mode in ("sequential", "asyncio"):
                    figures[name][mode].append(float(result[mode]))
            line = ", ".join(f"{n} {x['sequential']:.0f}/{x['asyncio']:.0f}" for n, x in rows)
            print(f"round {r + 1}: calls/s sequential/asyncio: {line}", flush=True)
    finally:
        for proc in sims:
            proc.terminate()
            proc.wait()

    def ratios(other: str, mode: str) -> list[float]:
        return [a / b for a, b in zip(figures["turnout"][mode], figures[other][mode], strict=False) if b > 0]

    names = {
        "turnout": "turnout",
        "openai": f"openai-python {versions.get('openai', '')}",
        "litellm": f"LiteLLM Router {versions.get('litellm', '')}",
    }
    c = args.concurrency
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"{'client (median calls/s)':30} {'sequential':>12} {'asyncio c=' + str(c):>16}")
    for key in ("turnout", "openai", "litellm"):
        if figures[key]["sequential"]:
            f = figures[key]
            print(f"{names[key]:30} {median(f['sequential']):12.0f} {median(f['asyncio']):16.0f}")
    summary: dict[str, Any] = {"figure": "python", "rounds": args.rounds, "seconds": args.seconds}
    summary["concurrency"] = c
    summary["calls_per_s"] = figures
    summary["versions"] = versions
    summary["openai_asyncio_c8"] = openai_c8
    summary["ratios"] = {
        "python_sync": ratios("openai", "sequential"),
        "python_async": ratios("openai", "asyncio"),
    }
    print(
        f"turnout vs {names['openai']}: {median(ratios('openai', 'sequential')):.1f}x sequential (goal 25x), "
        f"{median(ratios('openai', 'asyncio')):.1f}x asyncio (goal 5x)"
    )
    c8 = median(openai_c8)
    print(
        f"  (openai-python asyncio at concurrency 8: {c8:.0f} calls/s; "
        f"turnout at {c} does {median(figures['turnout']['asyncio']) / c8:.1f}x that)"
    )
    if figures["litellm"]["sequential"]:
        seq, aio = ratios("litellm", "sequential"), ratios("litellm", "asyncio")
        summary["ratios"]["python_litellm_sync"] = seq
        summary["ratios"]["python_litellm_async"] = aio
        summary["ratios"]["python_litellm"] = seq + aio
        print(
            f"turnout vs {names['litellm']}: {median(seq):.1f}x sequential (goal 100x), "
            f"{median(aio):.1f}x asyncio (goal 150x)"
        )
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
