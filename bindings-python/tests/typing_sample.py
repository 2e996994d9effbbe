"""Checked by mypy --strict in test_types.py (never run): the public API's types as a user
sees them."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from typing_extensions import assert_type

import turnout


def sync_usage(client: turnout.Client) -> None:
    resp = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    assert_type(resp, turnout.Response)
    assert_type(resp.route, turnout.Route)
    assert_type(resp.route.environment, Literal["blue", "green"])
    content: Any = resp.choices[0].message.content
    stream = client.chat.completions.create(model="m", messages=[], stream=True)
    assert_type(stream, turnout.Stream)
    for chunk in stream:
        assert_type(chunk, turnout.Object)
    page = client.models.list()
    assert_type(page, turnout.Page)
    assert_type(client.status(), dict[str, Any])
    assert_type(client.history(), list[dict[str, Any]])
    sub = client.on_event(lambda event: print(event["type"]))
    assert_type(sub, turnout.EventSubscription)
    assert_type(client.metrics_text(), str)
    assert_type(client.rollout(), dict[str, Any] | None)
    client.start_rollout(
        turnout.RolloutPlan(steps=[turnout.Step(weight=5, hold=60), turnout.Step(weight=100)])
    )
    _ = content
    httpx.Client(transport=turnout.HttpxTransport(client))


async def async_usage(client: turnout.AsyncClient) -> None:
    resp = await client.chat.completions.create(model="m", messages=[])
    assert_type(resp, turnout.Response)
    stream = await client.chat.completions.create(model="m", messages=[], stream=True)
    assert_type(stream, turnout.AsyncStream)
    async for chunk in stream:
        assert_type(chunk, turnout.Object)
    assert_type(await client.health_check("green"), dict[str, Any])
    async with client as c:
        assert_type(c, turnout.AsyncClient)
    httpx.AsyncClient(transport=turnout.AsyncHttpxTransport(client))


def construction() -> turnout.Client:
    client = turnout.Client(
        blue=turnout.Environment("https://a.example/v1", api_key="sk-a", label="v1"),
        green=turnout.Environment("https://b.example/v1", api_key="sk-b", label="v2"),
        active="blue",
        canary_weight=10.0,
        sticky=True,
        rules=[turnout.Rule(match={"tier": "premium"}, environment="green")],
        retry=turnout.RetryPolicy(
            max_attempts=4, initial_backoff=0.2, max_backoff=8.0, multiplier=2.0, jitter="full"
        ),
        model_fallbacks={"gpt-4.1": ["gpt-4o", "gpt-4o-mini"]},
        health_check=turnout.HealthCheck(
            interval=10.0, timeout=2.0, path="/models", unhealthy_threshold=3, healthy_threshold=2
        ),
        circuit_breaker=turnout.CircuitBreaker(failure_threshold=5, cooldown=30.0),
        rollback=turnout.RollbackPolicy(
            max_error_rate=0.05, min_success_rate=0.95, max_p99_latency_ms=None, window=60.0, min_requests=20
        ),
        timeout=30.0,
    )
    with client as c:
        assert_type(c, turnout.Client)
    assert_type(turnout.Client.from_config("turnout.yaml"), turnout.Client)
    assert_type(turnout.AsyncClient.from_config({"environments": {}}), turnout.AsyncClient)
    try:
        pass
    except turnout.APIStatusError as e:
        assert_type(e.status_code, int)
    return client
