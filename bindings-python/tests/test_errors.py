"""Each exception class, raised from a real upstream answer, with its attributes."""

from __future__ import annotations

import socket
from typing import Any

import pytest

import turnout
from conftest import BLUE_KEY, MESSAGES, Sim, client_kwargs


def test_hierarchy() -> None:
    t = turnout
    assert issubclass(t.ConfigError, t.TurnoutError)
    assert issubclass(t.NoHealthyEnvironmentError, t.TurnoutError)
    assert issubclass(t.APIError, t.TurnoutError)
    assert issubclass(t.APIConnectionError, t.APIError)
    assert issubclass(t.APITimeoutError, t.APIConnectionError)
    assert issubclass(t.APIStatusError, t.APIError)
    assert issubclass(t.StreamInterruptedError, t.APIError)
    assert not issubclass(t.StreamInterruptedError, t.APIStatusError)
    for cls in (
        t.BadRequestError,
        t.AuthenticationError,
        t.PermissionDeniedError,
        t.NotFoundError,
        t.UnprocessableEntityError,
        t.RateLimitError,
        t.InternalServerError,
    ):
        assert issubclass(cls, t.APIStatusError)
    assert issubclass(t.TurnoutError, Exception)
    assert t.RateLimitError.__module__ == "turnout"


@pytest.fixture
def one_shot(blue: Sim, green: Sim) -> Any:
    """A client that makes exactly one attempt, pinned requests only."""
    with turnout.Client(**client_kwargs(blue, green, retry=turnout.RetryPolicy(max_attempts=1))) as c:
        yield c


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, turnout.BadRequestError),
        (401, turnout.AuthenticationError),
        (403, turnout.PermissionDeniedError),
        (404, turnout.NotFoundError),
        (409, turnout.APIStatusError),
        (422, turnout.UnprocessableEntityError),
        (429, turnout.RateLimitError),
        (500, turnout.InternalServerError),
        (503, turnout.InternalServerError),
    ],
)
def test_status_errors(one_shot: turnout.Client, blue: Sim, status: int, cls: type) -> None:
    blue.faults(error_rate=1.0, error_status=status)
    with pytest.raises(cls) as err:
        one_shot.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    e = err.value
    assert type(e) is cls
    assert e.status_code == status
    assert e.environment == "blue"
    assert e.kind == "status"
    assert isinstance(e.body, dict) and e.body["message"]
    assert e.message and str(status) in str(e)


def test_errors_from_the_upstreams_own_checks(one_shot: turnout.Client, blue: Sim) -> None:
    # A body the upstream refuses: 400 naming the parameter.
    with pytest.raises(turnout.BadRequestError) as bad:
        one_shot.chat.completions.create(model="m", messages=[], environment="blue")
    assert bad.value.param == "messages"
    # A model the upstream lacks: 404 model_not_found.
    blue.faults(missing_models=["gpt-9"])
    with pytest.raises(turnout.NotFoundError) as missing:
        one_shot.chat.completions.create(model="gpt-9", messages=MESSAGES, environment="blue")
    assert missing.value.code == "model_not_found"
    # An unknown endpoint.
    with pytest.raises(turnout.NotFoundError):
        one_shot.request("GET", "/nothing-here", environment="blue")


def test_wrong_key_is_authentication_error(blue: Sim, green: Sim) -> None:
    with turnout.Client(
        blue=turnout.Environment(blue.url, api_key="sk-wrong-key-000000000000"),
        green=turnout.Environment(green.url, api_key="sk-wrong-key-111111111111"),
        retry=turnout.RetryPolicy(max_attempts=1),
        health_check=turnout.HealthCheck(enabled=False),
    ) as c:
        with pytest.raises(turnout.AuthenticationError) as err:
            c.chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.status_code == 401
    assert err.value.code == "invalid_api_key"
    assert "sk-wrong-key" not in str(err.value)


def test_connection_error(green: Sim) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    with turnout.Client(
        blue=dead, green=green.url, retry=turnout.RetryPolicy(max_attempts=1), health_check={"enabled": False}
    ) as c:
        with pytest.raises(turnout.APIConnectionError) as err:
            c.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    assert type(err.value) is turnout.APIConnectionError
    assert err.value.environment == "blue" and err.value.kind == "connect"


def test_dropped_connection_is_connection_error(one_shot: turnout.Client, blue: Sim) -> None:
    blue.faults(drop_connection=True)
    with pytest.raises(turnout.APIConnectionError):
        one_shot.chat.completions.create(model="m", messages=MESSAGES, environment="blue")


def test_timeout(one_shot: turnout.Client, blue: Sim) -> None:
    blue.faults(latency_ms=1500)
    with pytest.raises(turnout.APITimeoutError) as err:
        one_shot.chat.completions.create(model="m", messages=MESSAGES, environment="blue", timeout=0.2)
    assert isinstance(err.value, turnout.APIConnectionError)
    assert err.value.environment == "blue" and err.value.kind == "timeout"


def test_undecodable_answer_is_api_error(one_shot: turnout.Client, blue: Sim) -> None:
    blue.faults(malformed_json=True)
    with pytest.raises(turnout.APIError) as err:
        one_shot.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    assert err.value.kind == "decode"


def test_no_healthy_environment(blue: Sim, green: Sim) -> None:
    kwargs = client_kwargs(
        blue,
        green,
        circuit_breaker=turnout.CircuitBreaker(failure_threshold=1, cooldown=60.0),
        retry=turnout.RetryPolicy(max_attempts=1),
    )
    blue.faults(error_rate=1.0, error_status=500)
    green.faults(error_rate=1.0, error_status=500)
    with turnout.Client(**kwargs) as c:
        for env in ("blue", "green"):
            with pytest.raises(turnout.InternalServerError):
                c.chat.completions.create(model="m", messages=MESSAGES, environment=env)
        with pytest.raises(turnout.NoHealthyEnvironmentError) as err:
            c.chat.completions.create(model="m", messages=MESSAGES)
    assert err.value.kind == "no_healthy_environment"
    assert not isinstance(err.value, turnout.APIError)


def test_retry_after_is_exposed(one_shot: turnout.Client, blue: Sim) -> None:
    blue.faults(error_rate=1.0, error_status=429, retry_after=1.5)
    with pytest.raises(turnout.RateLimitError) as err:
        one_shot.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    assert err.value.retry_after == pytest.approx(1.5)


def test_error_attributes_default_on_the_classes() -> None:
    e = turnout.APIStatusError("x")
    assert e.status_code == 0 and e.body is None and e.environment is None
    assert turnout.TurnoutError("y").kind is None


def test_error_repr_has_no_key(blue: Sim) -> None:
    with turnout.Client(
        blue=turnout.Environment(blue.url, api_key="sk-not-the-right-one-424242"),
        green=turnout.Environment(blue.url, api_key=BLUE_KEY),
        retry=turnout.RetryPolicy(max_attempts=1),
        health_check=turnout.HealthCheck(enabled=False),
    ) as c:
        with pytest.raises(turnout.AuthenticationError) as err:
            c.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    for text in (repr(err.value), str(err.value), repr(err.value.body), repr(vars(err.value))):
        assert "424242" not in text and BLUE_KEY not in text


def test_client_side_rate_limit(blue: Sim, green: Sim) -> None:
    kwargs = client_kwargs(blue, green, rate_limit=turnout.RateLimit(requests_per_minute=1))
    with turnout.Client(**kwargs) as c:
        c.chat.completions.create(model="m", messages=MESSAGES)
        with pytest.raises(turnout.ClientRateLimitError) as err:
            c.chat.completions.create(model="m", messages=MESSAGES, timeout=0.3)
    assert err.value.kind == "rate_limited"
    assert not isinstance(err.value, turnout.APIError)
    assert blue.chat_count() + green.chat_count() == 1
