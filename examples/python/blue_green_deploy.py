"""Blue/green deployment as a small CLI: status, deploy (probe, switch, verify, roll back
on failure) and rollback, run in order against two OpenAI-compatible environments.

    turnout sim --port 8001 &  turnout sim --port 8002 &
    python examples/python/blue_green_deploy.py \\
        --blue http://127.0.0.1:8001/v1 --green http://127.0.0.1:8002/v1 status deploy status rollback status

URLs also come from TURNOUT_BLUE_URL / TURNOUT_GREEN_URL, keys from TURNOUT_BLUE_KEY /
TURNOUT_GREEN_KEY. With no command, runs `status deploy status rollback status`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

import turnout

MESSAGES = [{"role": "user", "content": "Say hello."}]


def build_client(blue_url: str, green_url: str) -> turnout.Client:
    return turnout.Client(
        blue=turnout.Environment(blue_url, api_key=os.environ.get("TURNOUT_BLUE_KEY"), label="v1"),
        green=turnout.Environment(green_url, api_key=os.environ.get("TURNOUT_GREEN_KEY"), label="v2"),
        active="blue",
        health_check=turnout.HealthCheck(enabled=False),  # this CLI probes on demand
        timeout=10.0,
    )


def traffic(client: turnout.Client, n: int = 20) -> Counter[str]:
    """Sends n requests and counts which environment served them."""
    served: Counter[str] = Counter()
    for i in range(n):
        resp = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, routing_key=f"user-{i}")
        served[resp.route.environment] += 1
    return served


def status(client: turnout.Client) -> None:
    st = client.status()
    print(f"status: active={st['active']} canary_weight={st['canary_weight']} version={st['version']}")
    for side, env in st["environments"].items():
        w = env["window"]
        print(
            f"  {side:5} label={env['label']} healthy={env['healthy']} circuit={env['circuit']} "
            f"requests={w['requests']} error_rate={w['error_rate']:.2f} p50={w['p50_ms']:.1f}ms"
        )


def deploy(client: turnout.Client) -> bool:
    """Probes the idle side, switches to it, verifies with live traffic; rolls back if the
    new side fails."""
    target = "green" if client.status()["active"] == "blue" else "blue"
    probe = client.health_check(target)
    print(f"deploy: probe {target}: healthy={probe['healthy']} latency={probe['latency_ms']:.1f}ms")
    if not probe["healthy"]:
        print(f"deploy: aborted, {target} is unhealthy: {probe['error']}")
        return False
    client.switch_to(target)
    try:
        served = traffic(client)
    except turnout.APIError as e:
        print(f"deploy: verification failed ({e}); rolling back")
        client.rollback(reason=f"verification of {target} failed")
        return False
    print(f"deploy: switched to {target}; verification traffic served by {dict(served)}")
    return served.get(target, 0) > 0


def rollback(client: turnout.Client) -> None:
    state = client.rollback(reason="operator rollback")
    print(
        f"rollback: active={state['active']} (version {state['version']}); traffic: {dict(traffic(client))}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blue", default=os.environ.get("TURNOUT_BLUE_URL"), help="blue base URL")
    parser.add_argument("--green", default=os.environ.get("TURNOUT_GREEN_URL"), help="green base URL")
    parser.add_argument("commands", nargs="*", metavar="status|deploy|rollback")
    args = parser.parse_args(argv)
    unknown = [c for c in args.commands if c not in ("status", "deploy", "rollback")]
    if unknown:
        parser.error(f"unknown command {unknown[0]!r}: use status, deploy or rollback")
    if not args.blue or not args.green:
        parser.error("give --blue and --green (or TURNOUT_BLUE_URL and TURNOUT_GREEN_URL)")
    commands = args.commands or ["status", "deploy", "status", "rollback", "status"]
    with build_client(args.blue, args.green) as client:
        client.on_event(lambda e: print(f"  event: {e['type']}: {e['reason']}"))
        for command in commands:
            if command == "status":
                status(client)
            elif command == "deploy":
                if not deploy(client):
                    return 1
            else:
                rollback(client)
    return 0


if __name__ == "__main__":
    sys.exit(main())
