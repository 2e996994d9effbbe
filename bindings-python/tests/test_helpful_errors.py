"""Errors that help (issue 18): keyword typos get "did you mean", a closed client refuses every
operation, config type errors name the key, the kind expected and the variable, and a cut
stream says the connection had succeeded."""

from __future__ import annotations

from typing import Any

import pytest

import turnout
from conftest import Sim, client_kwargs

LONG = [{"role": "user", "content": "one two three four five six seven eight nine ten"}]


def _envs() -> dict[str, Any]:
    return {
        "blue": turnout.Environment("http://127.0.0.1:9/v1"),
        "green": turnout.Environment("http://127.0.0.1:9/v1"),
        "health_check": turnout.HealthCheck(enabled=False),
    }


@pytest.mark.parametrize("cls", [turnout.Client, turnout.AsyncClient])
def test_keyword_typo_suggests_the_keyword(cls: Any) -> None:
    with pytest.raises(TypeError) as err:
        cls(canary_weigth=10.0, **_envs())
    assert str(err.value) == (
        f"{cls.__name__}() got an unexpected keyword argument 'canary_weigth'; did you mean 'canary_weight'?"
    )
    # The other case convention, as config files accept it in their hint.
    with pytest.raises(TypeError, match="did you mean 'circuit_breaker'"):
        cls(circuitBreaker=None, **_envs())
    # Nothing close: the plain message, no invented hint.
    with pytest.raises(TypeError) as far:
        cls(zzzzzz=1, **_envs())
    assert "did you mean" not in str(far.value) and "'zzzzzz'" in str(far.value)


def test_policy_keyword_typo_suggests_the_keyword() -> None:
    with pytest.raises(TypeError) as err:
        turnout.RetryPolicy(max_attemps=3)
    assert str(err.value) == (
        "RetryPolicy() got an unexpected keyword argument 'max_attemps'; did you mean 'max_attempts'?"
    )
    with pytest.raises(TypeError, match="did you mean 'failure_threshold'"):
        turnout.CircuitBreaker(failureThreshold=3)


def test_suggest_is_the_cores_rule() -> None:
    assert turnout._turnout._suggest("canaryWeight", ["canary_weight", "sticky"]) == "canary_weight"
    assert turnout._turnout._suggest("stiky", ["canary_weight", "sticky"]) == "sticky"
    assert turnout._turnout._suggest("weight", ["canary_weight", "sticky"]) is None


def test_closed_client_refuses_operations() -> None:
    client = turnout.Client(**_envs())
    checkpoint = client.checkpoint("before")
    plan = turnout.RolloutPlan(steps=[turnout.Step(weight=5, hold=1), turnout.Step(weight=100, hold=0)])
    client.close()
    operations = [
        lambda: client.switch_to("green"),
        lambda: client.set_canary_weight(25.0),
        client.promote,
        client.rollback,
        lambda: client.checkpoint("after"),
        lambda: client.restore_checkpoint(checkpoint["id"]),
        lambda: client.start_rollout(plan),
        client.pause_rollout,
        client.resume_rollout,
        client.abort_rollout,
    ]
    for operation in operations:
        with pytest.raises(turnout.ClientClosedError):
            operation()
    # Nothing changed, and reading is still allowed.
    assert client.status()["active"] == "blue" and client.status()["version"] == 1


async def test_closed_async_client_refuses_operations() -> None:
    client = turnout.AsyncClient(**_envs())
    await client.close()
    with pytest.raises(turnout.ClientClosedError):
        await client.switch_to("green")
    with pytest.raises(turnout.ClientClosedError):
        await client.set_canary_weight(5.0)


def test_config_type_error_names_key_kind_and_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TURNOUT_TEST_CANARY_WEIGHT", "abc")
    config = {
        "environments": {"blue": {"base_url": "http://a/v1"}, "green": {"base_url": "http://b/v1"}},
        "canary_weight": "${TURNOUT_TEST_CANARY_WEIGHT}",
    }
    with pytest.raises(turnout.ConfigError) as err:
        turnout.Client.from_config(config)
    assert str(err.value) == (
        'invalid configuration: canary_weight: expected a number, got the string "abc" '
        "(from ${TURNOUT_TEST_CANARY_WEIGHT})"
    )
    assert "f64" not in str(err.value)


def test_state_dicts_carry_canary_weight_in_percent() -> None:
    with turnout.Client(**_envs()) as client:
        for state in (client.set_canary_weight(12.5), client.promote(), client.switch_to("blue")):
            assert state["canary_weight"] == state["weight_bp"] / 100
        assert client.set_canary_weight(12.5)["canary_weight"] == 12.5
        assert client.rollback()["canary_weight"] == 0.0


def test_cut_stream_says_the_connection_had_succeeded(blue: Sim, green: Sim) -> None:
    blue.faults(truncate_after=3)
    with turnout.Client(**client_kwargs(blue, green)) as client:
        stream = client.chat.completions.create(model="m", messages=LONG, stream=True, environment="blue")
        with pytest.raises(turnout.StreamInterruptedError) as err:
            for _ in stream:
                pass
    message = str(err.value)
    assert "cannot connect" not in message, message
    assert "after it had succeeded" in message, message
