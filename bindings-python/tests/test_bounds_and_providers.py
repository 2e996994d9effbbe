"""Issue 14's deadline and bounds, and issue 13's provider settings, as a Python user meets them:
keywords on the client, on each request and on ``Environment``. Verdicts are counts and error
classes, never elapsed time."""

from __future__ import annotations

from typing import Any

import pytest

import turnout
from conftest import BLUE_KEY, MESSAGES, Sim, client_kwargs


def test_a_request_deadline_ends_the_whole_call(blue: Sim, green: Sim) -> None:
    for sim in (blue, green):
        sim.faults(latency_ms=300, error_rate=1.0, error_status=503)
    kwargs = client_kwargs(
        blue,
        green,
        retry=turnout.RetryPolicy(max_attempts=20, initial_backoff=0.01, max_backoff=0.05),
        circuit_breaker=turnout.CircuitBreaker(failure_threshold=1000, min_calls=1000, window_size=1000),
    )
    with turnout.Client(**kwargs) as client:
        with pytest.raises(turnout.APITimeoutError):
            client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, deadline=0.7)
    sent = blue.chat_count() + green.chat_count()
    assert 2 <= sent <= 3, f"300 ms attempts in a 700 ms deadline: {sent} sent, not 20"


def test_the_deadline_keyword_is_not_sent_upstream_as_a_parameter(blue: Sim, green: Sim) -> None:
    with turnout.Client(**client_kwargs(blue, green)) as client:
        resp = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, deadline=30)
        assert resp.choices[0].message.content


def test_client_wide_deadline_bounds_and_first_event_timeout_reach_the_core(blue: Sim, green: Sim) -> None:
    kwargs = client_kwargs(
        blue,
        green,
        deadline=30.0,
        stream_first_event_timeout=5.0,
        bounds={"response_body_bytes": 1 << 20, "sse_event_bytes": 1 << 20},
    )
    with turnout.Client(**kwargs) as client:
        assert client.chat.completions.create(model="gpt-4.1", messages=MESSAGES).route.environment == "blue"
    with pytest.raises(turnout.ConfigError, match="bounds.sse_event_bytes"):
        turnout.Client(**client_kwargs(blue, green, bounds={"sse_event_bytes": 0}))
    with pytest.raises(turnout.ConfigError, match="deadline"):
        turnout.Client(**client_kwargs(blue, green, deadline=0.0))


def test_an_environment_sends_its_key_its_way_with_its_query_and_model_names(
    sim_factory: Any, green: Sim
) -> None:
    # The simulator checks the bearer key; a base URL with a query keeps its path.
    blue = sim_factory(api_key=BLUE_KEY)
    env = turnout.Environment(
        f"{blue.url}?api-version=2024-10-21",
        api_key=BLUE_KEY,
        auth="bearer",
        query={"tenant": "a"},
        models={"gpt-4.1": "gpt-4o"},
    )
    assert env.auth == "bearer"
    assert env.query == {"tenant": "a"}
    assert "api-version" not in repr(env) or "****" in repr(env)
    kwargs = client_kwargs(blue, green)
    kwargs["blue"] = env
    with turnout.Client(**kwargs) as client:
        resp = client.chat.completions.create(model="gpt-4.1", messages=MESSAGES, environment="blue")
    assert resp.route.environment == "blue"
    assert resp.model == "gpt-4o", "the side's model map renamed the model it was sent"
    assert blue.chat_count() == 1


def test_a_wrong_auth_style_is_refused_with_the_field_named(blue: Sim, green: Sim) -> None:
    env = turnout.Environment(blue.url, api_key=BLUE_KEY, auth="basic")
    kwargs = client_kwargs(blue, green)
    kwargs["blue"] = env
    with pytest.raises(turnout.ConfigError, match="auth"):
        turnout.Client(**kwargs)
