"""Traffic changes refused towards an unavailable side unless forced, rollback that says
`already rolled back`, and the error classes of the fleet work (issue 11)."""

from __future__ import annotations

import pytest

import turnout
from conftest import MESSAGES, Sim, client_kwargs


def open_green_circuit(blue: Sim, green: Sim) -> turnout.Client:
    client = turnout.Client(
        **client_kwargs(
            blue,
            green,
            circuit_breaker=turnout.CircuitBreaker(failure_threshold=2, cooldown=30.0),
            retry=turnout.RetryPolicy(max_attempts=1),
        )
    )
    green.faults(error_rate=1.0, error_status=500)
    for _ in range(2):
        with pytest.raises(turnout.InternalServerError):
            client.chat.completions.create(model="m", messages=MESSAGES, environment="green")
    assert client.status()["environments"]["green"]["circuit"] == "open"
    return client


def test_a_switch_to_an_open_circuit_needs_force(blue: Sim, green: Sim) -> None:
    with open_green_circuit(blue, green) as client:
        with pytest.raises(turnout.RefusedError) as err:
            client.switch_to("green")
        assert err.value.kind == "refused"
        assert "circuit is open" in str(err.value)
        assert client.status()["active"] == "blue"
        with pytest.raises(turnout.RefusedError):
            client.set_canary_weight(10)
        state = client.switch_to("green", force=True)
        assert state["active"] == "green"
        # Back to blue raises blue's share: allowed, blue is available.
        assert client.rollback("green is broken")["active"] == "blue"
        # The last change was a rollback: nothing to undo, blue stays.
        assert client.rollback("again")["active"] == "blue"
        last = client.history()[-1]
        assert last["type"] == "rollback"
        assert last["note"] == "already rolled back"


def test_unknown_checkpoint_and_no_rollout_have_their_own_classes(blue: Sim, green: Sim) -> None:
    with turnout.Client(**client_kwargs(blue, green)) as client:
        with pytest.raises(turnout.UnknownCheckpointError):
            client.restore_checkpoint("cp-999")
        with pytest.raises(turnout.NoRolloutError):
            client.pause_rollout()


def test_the_fleet_error_classes_are_turnout_errors() -> None:
    for cls in (
        turnout.StoreError,
        turnout.NoRolloutError,
        turnout.UnknownCheckpointError,
        turnout.RefusedError,
    ):
        assert issubclass(cls, turnout.TurnoutError)
        assert not issubclass(cls, turnout.ConfigError)
