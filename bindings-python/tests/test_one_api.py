"""One API in three languages (issue 18): the names and shapes Node has too."""

from __future__ import annotations

import pytest

import turnout
from conftest import Sim, client_kwargs


def test_rollout_is_the_name_and_rollout_status_its_deprecated_alias(client: turnout.Client) -> None:
    assert client.rollout() is None
    with pytest.warns(DeprecationWarning, match="rollout_status"):
        assert client.rollout_status() is None
    plan = turnout.RolloutPlan(
        steps=[turnout.Step(weight=10, hold=0, min_requests=1000), turnout.Step(weight=100, hold=0)],
        interval=3600,
    )
    client.start_rollout(plan)
    # tick() judges now: too few requests, so the step stays.
    client.tick()
    rollout = client.rollout()
    assert rollout is not None and rollout["state"] == "running" and rollout["step"] == 0


async def test_async_rollout_and_tick(aclient: turnout.AsyncClient) -> None:
    assert await aclient.rollout() is None
    await aclient.tick()


def test_models_page_prints_like_openai_python(client: turnout.Client) -> None:
    page = client.models.list()
    text = repr(page)
    assert text.startswith("SyncPage[Model](data=[Model(id='gpt-4.1', "), text
    assert text.endswith("], object='list')"), text
    assert "Response(" not in text


def test_transport_answer_headers_match_node(blue: Sim, green: Sim) -> None:
    httpx = pytest.importorskip("httpx")
    with turnout.Client(**client_kwargs(blue, green)) as client:
        http = httpx.Client(transport=turnout.HttpxTransport(client), base_url="http://turnout/v1")
        resp = http.post(
            "/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
        )
        assert resp.status_code == 200
        assert resp.headers["x-turnout-environment"] == "blue"
        assert resp.headers["x-turnout-attempts"] == "1"
        assert resp.headers["x-turnout-model"] == "gpt-4o-mini"
        assert resp.headers["x-turnout-label"] == "v1"
