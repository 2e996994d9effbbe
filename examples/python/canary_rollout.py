"""A phased canary rollout with automatic rollback.

Phase 1 rolls out a broken candidate: the rollback guard sees its error rate over the window
and sends the traffic back at once, by itself. Phase 2 rolls out a healthy candidate through
10 % → 50 % → 100 % and promotes it. Traffic runs all along from an asyncio load loop.

    turnout sim --port 8001 &  turnout sim --port 8002 &
    python examples/python/canary_rollout.py \\
        --blue http://127.0.0.1:8001/v1 --green http://127.0.0.1:8002/v1 --break-candidate

`--break-candidate` makes the green simulator fail half its requests during phase 1 (through
the simulator's /_sim/faults endpoint; without it, phase 1 is skipped). URLs also come from
TURNOUT_BLUE_URL / TURNOUT_GREEN_URL, keys from TURNOUT_BLUE_KEY / TURNOUT_GREEN_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import urllib.request
from collections import Counter

import turnout

MESSAGES = [{"role": "user", "content": "How is the rollout going?"}]


def sim_faults(base_url: str, **faults: object) -> None:
    """Sets a `turnout sim`'s injected faults (its control API sits beside /v1)."""
    root = base_url.rstrip("/").removesuffix("/v1")
    req = urllib.request.Request(
        f"{root}/_sim/faults",
        data=json.dumps(faults).encode(),
        method="PUT",
        headers={"content-type": "application/json"},
    )
    urllib.request.urlopen(req, timeout=5).read()


async def load(client: turnout.AsyncClient, stop: asyncio.Event, served: Counter[str]) -> None:
    """One user's loop: a request every few milliseconds until told to stop."""
    i = 0
    while not stop.is_set():
        i += 1
        try:
            resp = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
            served[resp.route.environment] += 1
        except turnout.APIError:
            served["error"] += 1
        await asyncio.sleep(0.005)


async def rollout(client: turnout.AsyncClient, plan: turnout.RolloutPlan, limit: float) -> dict[str, object]:
    """Starts the rollout, drives traffic until it ends, returns its final status."""
    served: Counter[str] = Counter()
    stop = asyncio.Event()
    workers = [asyncio.ensure_future(load(client, stop, served)) for _ in range(16)]
    await client.start_rollout(plan)
    deadline = time.monotonic() + limit
    last = None
    try:
        while time.monotonic() < deadline:
            status = await client.rollout()
            assert status is not None
            if (status["step"], status["state"]) != last:
                last = (status["step"], status["state"])
                step = f"{status['step'] + 1}/{status['steps']}"
                print(f"  rollout: state={status['state']} step={step} weight={status['weight']}%")
            if status["state"] not in ("running", "paused"):
                return status
            await asyncio.sleep(0.05)
        raise TimeoutError("the rollout did not finish in time")
    finally:
        stop.set()
        await asyncio.gather(*workers)
        print(f"  traffic served: {dict(served)}")


async def smoke_test(client: turnout.AsyncClient, side: str) -> None:
    """Pinned requests until `side` serves again and its circuit is closed (after a failure
    it opens; after the cooldown one trial request closes it)."""
    for _ in range(100):
        try:
            await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, environment=side)
        except turnout.TurnoutError:
            await asyncio.sleep(0.1)
            continue
        if (await client.status())["environments"][side]["circuit"] == "closed":
            print(f"  {side} serves again; its circuit is closed")
            return
    raise RuntimeError(f"{side} did not recover")


async def run(blue_url: str, green_url: str, break_candidate: bool) -> int:
    client = turnout.AsyncClient(
        blue=turnout.Environment(blue_url, api_key=os.environ.get("TURNOUT_BLUE_KEY"), label="stable"),
        green=turnout.Environment(green_url, api_key=os.environ.get("TURNOUT_GREEN_KEY"), label="candidate"),
        # The guard: always on while the candidate has weight.
        rollback=turnout.RollbackPolicy(max_error_rate=0.1, window=10.0, min_requests=20),
        retry=turnout.RetryPolicy(max_attempts=2, initial_backoff=0.01),
        circuit_breaker=turnout.CircuitBreaker(failure_threshold=5, cooldown=1.0),
        health_check=turnout.HealthCheck(enabled=False),
        stats_window=10.0,
    )
    plan = turnout.RolloutPlan(
        steps=[
            turnout.Step(weight=10, hold=0.5, min_requests=20),
            turnout.Step(weight=50, hold=0.5, min_requests=20),
            turnout.Step(weight=100, hold=0.5, min_requests=20),
        ],
        gates=turnout.RollbackPolicy(max_error_rate=0.1, window=10.0, min_requests=20),
        interval=0.25,
    )
    async with client:
        client.on_event(lambda e: print(f"  event: {e['type']}: {e['reason']}"))
        if break_candidate:
            print("phase 1: rolling out a broken candidate (green fails half its requests)")
            sim_faults(green_url, error_rate=0.5, error_status=500)
            try:
                final = await rollout(client, plan, limit=30)
            finally:
                sim_faults(green_url)
            st = await client.status()
            traffic = f"active={st['active']} canary_weight={st['canary_weight']}"
            print(f"phase 1: rollout {final['state']}; {traffic}")
            if final["state"] != "rolled_back" or st["canary_weight"] != 0:
                return 1
            print("fixing the candidate, then smoke-testing it with pinned requests")
            await smoke_test(client, "green")
        print("phase 2: rolling out a healthy candidate")
        final = await rollout(client, plan, limit=60)
        st = await client.status()
        print(f"phase 2: rollout {final['state']}; active={st['active']} canary_weight={st['canary_weight']}")
        return 0 if final["state"] == "completed" and st["active"] == "green" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blue", default=os.environ.get("TURNOUT_BLUE_URL"), help="stable base URL")
    parser.add_argument("--green", default=os.environ.get("TURNOUT_GREEN_URL"), help="candidate base URL")
    parser.add_argument(
        "--break-candidate", action="store_true", help="phase 1 on a failing candidate (turnout sim only)"
    )
    args = parser.parse_args(argv)
    if not args.blue or not args.green:
        parser.error("give --blue and --green (or TURNOUT_BLUE_URL and TURNOUT_GREEN_URL)")
    return asyncio.run(run(args.blue, args.green, args.break_candidate))


if __name__ == "__main__":
    sys.exit(main())
