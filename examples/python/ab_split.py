"""A/B split between two providers: each user sticks to one side (bucketing by user id), and
the two sides' latency and cost are compared at the end.

    turnout sim --port 8001 &  turnout sim --port 8002 --latency-ms 20 &
    python examples/python/ab_split.py --blue http://127.0.0.1:8001/v1 --green http://127.0.0.1:8002/v1

URLs also come from TURNOUT_BLUE_URL / TURNOUT_GREEN_URL, keys from TURNOUT_BLUE_KEY /
TURNOUT_GREEN_KEY.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
from collections import defaultdict

import turnout


async def run(blue_url: str, green_url: str, users: int, requests_per_user: int, model: str) -> int:
    client = turnout.AsyncClient(
        blue=turnout.Environment(blue_url, api_key=os.environ.get("TURNOUT_BLUE_KEY"), label="provider-a"),
        green=turnout.Environment(green_url, api_key=os.environ.get("TURNOUT_GREEN_KEY"), label="provider-b"),
        canary_weight=50.0,  # half the users on each side
        sticky=True,
        # USD per million tokens, per side's model as it answers (here: the same name on both).
        pricing={model: {"input": 0.15, "output": 0.60}},
        rollback=turnout.RollbackPolicy(max_error_rate=None),  # an experiment, not a rollout
        health_check=turnout.HealthCheck(enabled=False),
    )
    sides_of_user: dict[str, set[str]] = defaultdict(set)
    latency: dict[str, list[float]] = defaultdict(list)
    cost: dict[str, float] = defaultdict(float)
    failovers = 0

    async def user(u: int) -> None:
        nonlocal failovers
        for i in range(requests_per_user):
            resp = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": f"question {i} from a curious user"}],
                user=f"user-{u}",  # the routing key defaults to OpenAI's `user` field
            )
            side = resp.route.environment
            if resp.route.attempts > 1:
                # A retry may land on the other side (failover): not the user's assignment.
                failovers += 1
            else:
                sides_of_user[f"user-{u}"].add(side)
            latency[side].append(resp.route.latency_ms)
            cost[side] += resp.route.cost_usd or 0.0

    async with client:
        await asyncio.gather(*(user(u) for u in range(users)))
        totals = await client.costs()

    sticky = all(len(s) == 1 for s in sides_of_user.values())
    print(f"{users} users x {requests_per_user} requests; every user stayed on one side: {sticky}")
    if failovers:
        print(f"({failovers} requests were retried, possibly on the other side)")
    print(f"{'side':6} {'label':11} {'users':>5} {'reqs':>5} {'p50 ms':>7} {'p95 ms':>7} {'cost USD':>10}")
    for side, label in (("blue", "provider-a"), ("green", "provider-b")):
        lat = sorted(latency[side])
        n_users = sum(1 for s in sides_of_user.values() if side in s)
        p50 = statistics.median(lat) if lat else 0.0
        p95 = lat[int(len(lat) * 0.95) - 1] if lat else 0.0
        print(f"{side:6} {label:11} {n_users:5} {len(lat):5} {p50:7.1f} {p95:7.1f} {cost[side]:10.6f}")
    by_env = totals["by_environment"]
    print("costs() by environment:", {k: round(v.get("cost_usd") or 0.0, 6) for k, v in by_env.items()})
    both_used = len(latency) == 2
    return 0 if sticky and both_used else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blue", default=os.environ.get("TURNOUT_BLUE_URL"), help="provider A base URL")
    parser.add_argument("--green", default=os.environ.get("TURNOUT_GREEN_URL"), help="provider B base URL")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--requests", type=int, default=5, help="requests per user")
    parser.add_argument("--model", default="gpt-4o-mini")
    args = parser.parse_args(argv)
    if not args.blue or not args.green:
        parser.error("give --blue and --green (or TURNOUT_BLUE_URL and TURNOUT_GREEN_URL)")
    return asyncio.run(run(args.blue, args.green, args.users, args.requests, args.model))


if __name__ == "__main__":
    sys.exit(main())
