"""The scripted scenarios of tests/conformance/operations.json, the same file the Rust and Node
suites run: operations, the state, events and errors expected after each step."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

import turnout
from conftest import REPO, Sim

SPEC: dict[str, Any] = json.loads((REPO / "tests" / "conformance" / "operations.json").read_text())
RUN_ALL = os.environ.get("TURNOUT_CONFORMANCE_ALL") == "1"
SCENARIOS = [s for s in SPEC["scenarios"] if RUN_ALL or "requires" not in s]
SKIPPED = [s["name"] for s in SPEC["scenarios"] if s not in SCENARIOS]


def merge(base: Any, over: Any) -> Any:
    """``base`` with ``over`` merged in, objects key by key."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v)
        return out
    return over


def subset(expected: Any, actual: Any) -> bool:
    """Whether ``actual`` holds everything ``expected`` says (objects by key, lists by item)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and subset(v, actual[k]) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(subset(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return float(expected) == float(actual)
    return bool(expected == actual)


class Run:
    """One scenario's client, simulators, saved ids and received events."""

    def __init__(self, client: turnout.Client, sims: dict[str, Sim]) -> None:
        self.client = client
        self.sims = sims
        self.saved: dict[str, str] = {}
        self.received: list[dict[str, Any]] = []

    def arg(self, args: dict[str, Any], key: str) -> Any:
        value = args[key]
        if isinstance(value, str) and value.startswith("$"):
            return self.saved[value[1:]]
        return value

    def send(self, args: dict[str, Any]) -> dict[str, Any]:
        served: dict[str, int] = {}
        errors: dict[str, int] = {}
        ok = 0
        for i in range(args["count"]):
            try:
                resp = self.client.chat.completions.create(
                    model="gpt-4o-mini",
                    messages=[{"role": "user", "content": f"conformance {i}"}],
                    routing_key=f"user-{i}",
                    environment=args.get("environment"),
                )
            except turnout.TurnoutError as e:
                errors[e.kind] = errors.get(e.kind, 0) + 1
                continue
            ok += 1
            served[resp.route.environment] = served.get(resp.route.environment, 0) + 1
        return {"ok": ok, "served": served, "errors": errors}

    def stream(self, args: dict[str, Any]) -> dict[str, Any]:
        stream = self.client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": args["content"]}],
            stream=True,
            environment=args.get("environment"),
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        return {"text": text, "environment": stream.route.environment}

    def faults(self, args: dict[str, Any]) -> None:
        self.sims[args["environment"]].faults(**args["faults"])

    def apply(self, op: str, args: dict[str, Any]) -> Any:
        c = self.client
        ops: dict[str, Callable[[], Any]] = {
            "status": c.status,
            "switch_to": lambda: c.switch_to(args["environment"], force=args.get("force", False)),
            "set_canary_weight": lambda: c.set_canary_weight(args["percent"], force=args.get("force", False)),
            "promote": lambda: c.promote(force=args.get("force", False)),
            "rollback": lambda: c.rollback(reason=args["reason"], force=args.get("force", False)),
            "checkpoint": lambda: c.checkpoint(args["name"]),
            "checkpoints": c.checkpoints,
            "restore_checkpoint": lambda: c.restore_checkpoint(
                self.arg(args, "id"), force=args.get("force", False)
            ),
            "start_rollout": lambda: c.start_rollout(args["plan"]),
            "pause_rollout": c.pause_rollout,
            "resume_rollout": c.resume_rollout,
            "abort_rollout": lambda: c.abort_rollout(reason=args["reason"]),
            "rollout": c.rollout,
            "tick": c.tick,
            "close": c.close,
            "history": c.history,
            "on_event": lambda: c.on_event(self.received.append),
            "received": lambda: list(self.received),
            "metrics_text": c.metrics_text,
            "costs": c.costs,
            "health_check": lambda: c.health_check(args["environment"]),
            "faults": lambda: self.faults(args),
            "send": lambda: self.send(args),
            "stream": lambda: self.stream(args),
            "embeddings": lambda: c.embeddings.create(
                model="text-embedding-3-small", input="hello"
            ).to_dict(),
            "models_list": lambda: c.models.list().to_dict(),
            "request": lambda: c.request(args["method"], args["path"], json=args.get("json")).to_dict(),
        }
        return ops[op]()


def check(expect: dict[str, Any], got: Any, error: str | None, run: Run, events: list[Any]) -> list[str]:
    """What differs from the step's expectations."""
    out: list[str] = []
    want_error = expect.get("error")
    if error is not None:
        if want_error not in ("*", error):
            out.append(f"unexpected error {error}")
    elif want_error is not None:
        out.append(f"expected error {want_error}, got success")
    else:
        if "result" in expect and not subset(expect["result"], got):
            out.append(f"result {got} lacks {expect['result']}")
        if "contains" in expect and not any(subset(expect["contains"], v) for v in got):
            out.append(f"no item of {got} matches {expect['contains']}")
        if "contains_text" in expect and expect["contains_text"] not in got:
            out.append(f"text lacks {expect['contains_text']!r}")
        if "has_keys" in expect and not all(k in got for k in expect["has_keys"]):
            out.append(f"{got} lacks one of {expect['has_keys']}")
        if "last" in expect and not (got and subset(expect["last"], got[-1])):
            out.append(f"last item of {got} is not {expect['last']}")
    if "state" in expect:
        status = run.client.status()
        if not subset(expect["state"], status):
            out.append(f"state {status} lacks {expect['state']}")
    if "events" in expect and not subset(expect["events"], events):
        out.append(f"events {events} are not {expect['events']}")
    return out


def run_scenario(scenario: dict[str, Any], sim_factory: Any) -> list[str]:
    blue = sim_factory(api_key="sk-conformance-blue")
    green = sim_factory(api_key="sk-conformance-green")
    config = merge(SPEC["base_config"], scenario.get("config", {}))
    text = json.dumps(config).replace("{blue_url}", blue.url).replace("{green_url}", green.url)
    client = turnout.Client.from_config(json.loads(text))
    run = Run(client, {"blue": blue, "green": green})
    failures: list[str] = []
    try:
        for i, step in enumerate(scenario["steps"]):
            if "requires" in step and not RUN_ALL:
                break
            op, args = step["op"], step.get("args", {})
            before = len(client.history())
            got: Any = None
            error: str | None = None
            try:
                got = run.apply(op, args)
            except turnout.TurnoutError as e:
                error = e.kind
            events = client.history()[before:]
            if "save_as" in step and error is None:
                run.saved[step["save_as"]] = got["id"]
            at = f"{scenario['name']} / step {i} ({op})"
            failures += [f"{at}: {f}" for f in check(step.get("expect", {}), got, error, run, events)]
    finally:
        client.close()
    return failures


def test_every_operations_scenario_runs_as_specified(
    sim_factory: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    failures: list[str] = []
    for scenario in SCENARIOS:
        failures += run_scenario(scenario, sim_factory)
    with capsys.disabled():
        print(
            f"\noperations.json: ran {len(SCENARIOS)} scenarios, skipped {len(SKIPPED)} awaiting `requires`"
        )
    assert len(SCENARIOS) >= 8
    assert not failures, "\n".join(failures)
