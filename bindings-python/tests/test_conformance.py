"""The shared, language-neutral routing vectors of tests/conformance/, checked through the
bucketing function and end to end through a client's routing."""

from __future__ import annotations

import json
from typing import Any

import pytest

import turnout
from conftest import BLUE_KEY, GREEN_KEY, MESSAGES, REPO, Sim

VECTORS: list[dict[str, Any]] = json.loads((REPO / "tests" / "conformance" / "bucketing.json").read_text())[
    "vectors"
]


def _id(v: dict[str, Any]) -> str:
    return f"{v['salt']!r}:{v['key']!r}@{v['weight_bp']}"


@pytest.mark.parametrize("vector", VECTORS, ids=_id)
def test_bucketing_vector(vector: dict[str, Any]) -> None:
    bucket = turnout.bucket(vector["salt"], vector["key"])
    assert bucket == vector["bucket"]
    side = "candidate" if bucket < vector["weight_bp"] else "active"
    assert side == vector["side"]


def test_vectors_exist() -> None:
    assert len(VECTORS) >= 20


@pytest.mark.parametrize("active", ["blue", "green"])
def test_vectors_route_end_to_end(blue: Sim, green: Sim, active: str) -> None:
    """A client with the vector's salt and weight sends the key where the vector says."""
    candidate = "green" if active == "blue" else "blue"
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for v in VECTORS:
        groups.setdefault((v["salt"], v["weight_bp"]), []).append(v)
    for (salt, weight_bp), vectors in groups.items():
        client = turnout.Client.from_config(
            {
                "environments": {
                    "blue": {"base_url": blue.url, "api_key": BLUE_KEY},
                    "green": {"base_url": green.url, "api_key": GREEN_KEY},
                },
                "active": active,
                "canary_weight": weight_bp / 100,
                "salt": salt,
                "health_check": {"enabled": False},
            }
        )
        with client:
            for v in vectors:
                route = client.chat.completions.create(
                    model="m", messages=MESSAGES, routing_key=v["key"]
                ).route
                expected = candidate if v["side"] == "candidate" else active
                assert route.environment == expected, _id(v)
