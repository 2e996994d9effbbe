"""Key pools, rotate_keys, shadow_report, priorities and the hedge / shadow / balance / LLM-gate
options through the Python face: conversion only, the behaviour is the core's (core/tests)."""

from __future__ import annotations

import time

import pytest

import turnout
from conftest import BLUE_KEY, MESSAGES, Sim, client_kwargs

WRONG_KEY = "sk-test-WRONGWRONGWRONG-0000"


def test_a_key_pool_takes_a_refused_key_out_and_the_request_succeeds(blue: Sim, green: Sim) -> None:
    pool = turnout.Environment(blue.url, api_key=[WRONG_KEY, BLUE_KEY])
    kwargs = client_kwargs(blue, green)
    kwargs["blue"] = pool
    with turnout.Client(**kwargs) as client:
        resp = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, environment="blue")
        assert resp.route.environment == "blue"
        assert resp.route.attempts == 2
        keys = client.status()["environments"]["blue"]["keys"]
        assert [k["state"] for k in keys] == ["revoked", "active"]
        assert all("WRONG" not in k["fingerprint"] for k in keys)
        revoked = [e for e in client.history() if e["type"] == "key_revoked"]
        assert len(revoked) == 1 and revoked[0]["key"] == keys[0]["fingerprint"]

        client.rotate_keys("blue", [BLUE_KEY])
        keys = client.status()["environments"]["blue"]["keys"]
        assert [k["state"] for k in keys] == ["active"]
        assert any(e["type"] == "keys_rotated" for e in client.history())
        with pytest.raises(turnout.ConfigError):
            client.rotate_keys("blue", [])


def test_shadow_report_counts_pairs(blue: Sim, green: Sim) -> None:
    kwargs = client_kwargs(blue, green, shadow={"sample": 1.0, "max_concurrency": 2})
    with turnout.Client(**kwargs) as client:
        for sent in range(1, 4):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
            # Each shadow is awaited before the next request, so none is shed for want of a
            # slot under `max_concurrency` (a loaded machine made that race).
            report = client.shadow_report()
            tries = 0
            while report["totals"]["pairs"] < sent:
                tries += 1
                assert tries < 500, report
                time.sleep(0.01)
                report = client.shadow_report()
        assert report["enabled"] is True
        assert report["candidate"] == "green"
        assert report["sampled"] == 3
        assert report["tool_mismatch_rate"] == 0.0
        assert report["samples"] == []


def test_priority_is_a_request_option(blue: Sim, green: Sim) -> None:
    kwargs = client_kwargs(blue, green, rate_limit=turnout.RateLimit(max_concurrency=1, priority_aging=2.0))
    with turnout.Client(**kwargs) as client:
        client.chat.completions.create(model="gpt-4o", messages=MESSAGES, priority="high")
        client.request(
            "POST", "/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES}, priority="low"
        )
        assert 'turnout_limiter_wait_seconds_count{priority="high"} 1' in client.metrics_text()
        assert 'turnout_limiter_wait_seconds_count{priority="low"} 1' in client.metrics_text()
        with pytest.raises(turnout.ConfigError, match="priority"):
            client.chat.completions.create(model="gpt-4o", messages=MESSAGES, priority="urgent")


async def test_async_client_has_the_same_methods(blue: Sim, green: Sim) -> None:
    kwargs = client_kwargs(blue, green)
    async with turnout.AsyncClient(**kwargs) as client:
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, priority="low")
        await client.rotate_keys("green", ["sk-test-another-key-1234"])
        report = await client.shadow_report()
        assert report["enabled"] is False


def test_hedge_shadow_balance_and_llm_gates_are_validated_by_the_core(blue: Sim, green: Sim) -> None:
    gates = turnout.RollbackPolicy(
        max_cost_ratio=2.0, min_cached_token_share=0.5, shadow_max_tool_mismatch_rate=0.1
    )
    assert gates.max_cost_ratio == 2.0
    assert gates.shadow_max_tool_mismatch_rate == 0.1
    step = turnout.Step(0, min_requests=10, shadow=True)
    assert step.shadow is True and step.to_dict()["shadow"] is True
    plan = turnout.RolloutPlan(steps=[step, turnout.Step(100)], gates=gates)
    assert plan.steps[0].shadow is True
    assert gates.to_dict()["min_cached_token_share"] == 0.5
    ok = client_kwargs(blue, green, hedge={"after": "p95", "max_extra": 1}, balance="latency", rollback=gates)
    turnout.Client(**ok).close()
    with pytest.raises(turnout.ConfigError, match="hedge"):
        turnout.Client(**client_kwargs(blue, green, hedge={"after": "p99"}))
    with pytest.raises(turnout.ConfigError, match="sample"):
        turnout.Client(**client_kwargs(blue, green, shadow={"sample": 2.0}))
    with pytest.raises(turnout.ConfigError):
        turnout.Client(**client_kwargs(blue, green, balance="fastest"))


def test_a_rollout_may_start_with_a_shadow_step(blue: Sim, green: Sim) -> None:
    plan = turnout.RolloutPlan(
        steps=[turnout.Step(0, min_requests=5, shadow=True), turnout.Step(100)],
        gates=turnout.RollbackPolicy(shadow_max_tool_mismatch_rate=0.1, min_requests=5),
        interval=3600.0,
    )
    with turnout.Client(**client_kwargs(blue, green, shadow={"sample": 1.0})) as client:
        client.start_rollout(plan)
        assert client.status()["canary_weight"] == 0
        assert client.rollout()["state"] == "running"
        client.abort_rollout("test")
    with (
        turnout.Client(**client_kwargs(blue, green)) as plain,
        pytest.raises(turnout.ConfigError, match="shadow"),
    ):
        plain.start_rollout(plan)
