"""Every public method of the sync Client against two simulators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import turnout
from conftest import BLUE_KEY, GREEN_KEY, MESSAGES, Sim, client_kwargs


def test_chat_answer_has_attribute_access_to_dict_and_route(client: turnout.Client, blue: Sim) -> None:
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert resp.choices[0].message.content.startswith("Echo: hello there")
    assert resp.choices[0].message.role == "assistant"
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    assert resp.usage.total_tokens > 0
    assert resp.object == "chat.completion"
    # A field the upstream did not send reads as None, like openai's optional fields.
    assert resp.choices[0].message.refusal is None
    d = resp.to_dict()
    assert isinstance(d, dict) and d["choices"][0]["message"]["content"] == resp.choices[0].message.content
    assert resp["model"] == d["model"]
    route = resp.route
    assert route.environment == "blue"
    assert route.label == "v1"
    assert route.model == "gpt-4o-mini"
    assert route.fallback_from is None
    assert route.attempts == 1
    assert route.latency_ms > 0
    assert route.cost_usd is None or route.cost_usd >= 0
    assert route.to_dict()["environment"] == "blue"
    assert blue.chat_count() == 1


def test_openai_parameters_pass_through(client: turnout.Client) -> None:
    resp = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four five six seven"}],
        max_tokens=2,
        temperature=0.2,
        extra_body={"seed": 7},
    )
    # The simulator caps the pieces at max_tokens and says so.
    assert resp.choices[0].finish_reason == "length"


def test_openai_not_given_markers_are_left_out(client: turnout.Client) -> None:
    openai = pytest.importorskip("openai")
    resp = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=openai.NOT_GIVEN
    )
    assert resp.choices[0].message.content


def test_environment_pin_and_routing_key(client: turnout.Client, blue: Sim, green: Sim) -> None:
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, environment="green")
    assert resp.route.environment == "green"
    assert resp.route.label == "v2"
    assert green.chat_count() == 1 and blue.chat_count() == 0
    with pytest.raises(turnout.ConfigError, match="blue"):
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, environment="purple")


def test_int_routing_keys_and_metadata_values(blue: Sim, green: Sim) -> None:
    with turnout.Client(**client_kwargs(blue, green, canary_weight=50.0)) as c:
        for key in range(12):
            a = c.chat.completions.create(model="m", messages=MESSAGES, routing_key=key, metadata={"n": 1})
            b = c.chat.completions.create(model="m", messages=MESSAGES, routing_key=str(key))
            assert a.route.environment == b.route.environment
            assert a.route.environment == ("green" if turnout.bucket("turnout", str(key)) < 5000 else "blue")


def test_rules_route_by_metadata(blue: Sim, green: Sim) -> None:
    rules = [turnout.Rule(match={"tier": "premium"}, environment="green")]
    with turnout.Client(**client_kwargs(blue, green, rules=rules)) as c:
        r1 = c.chat.completions.create(model="m", messages=MESSAGES, metadata={"tier": "premium"})
        r2 = c.chat.completions.create(model="m", messages=MESSAGES, metadata={"tier": "free"})
    assert r1.route.environment == "green"
    assert r2.route.environment == "blue"


def test_embeddings_models_and_any_endpoint(client: turnout.Client) -> None:
    emb = client.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 8
    assert emb.route.environment == "blue"
    models = client.models.list()
    ids = [m.id for m in models]
    assert "gpt-4o-mini" in ids and len(models) == len(ids)
    assert models.data[0].id == ids[0]
    one = client.models.retrieve("gpt-4o")
    assert one.id == "gpt-4o"
    raw = client.request("POST", "/chat/completions", json={"model": "gpt-4o", "messages": MESSAGES})
    assert raw.choices[0].message.content.startswith("Echo:")
    assert raw.route.environment == "blue"
    resp = client.request("POST", "/responses", json={"model": "gpt-4o", "input": "hi"})
    assert resp["object"] == "response" and resp.route.environment == "blue"
    with pytest.raises(turnout.NotFoundError) as err:
        client.request("POST", "/no-such-endpoint", json={"model": "gpt-4o"})
    assert err.value.status_code == 404


def test_request_stream(client: turnout.Client) -> None:
    stream = client.request(
        "POST", "/chat/completions", json={"model": "m", "messages": MESSAGES, "stream": True}, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text.startswith("Echo: hello")


def test_traffic_operations(client: turnout.Client, blue: Sim, green: Sim) -> None:
    status = client.status()
    assert status["active"] == "blue" and status["canary_weight"] == 0
    assert set(status["environments"]) == {"blue", "green"}
    assert status["environments"]["blue"]["label"] == "v1"
    assert status["environments"]["blue"]["circuit"] == "closed"
    assert BLUE_KEY not in json.dumps(status)
    version = status["version"]

    state = client.switch_to("green")
    assert state["active"] == "green" and state["version"] == version + 1
    assert client.chat.completions.create(model="m", messages=MESSAGES).route.environment == "green"

    client.set_canary_weight(100.0)
    assert client.status()["canary_weight"] == 100
    # The candidate (blue) now gets everything.
    assert client.chat.completions.create(model="m", messages=MESSAGES).route.environment == "blue"
    with pytest.raises(turnout.ConfigError, match="canary_weight"):
        client.set_canary_weight(150.0)

    client.rollback(reason="testing")
    st = client.status()
    assert st["active"] == "green" and st["canary_weight"] == 0

    client.set_canary_weight(25.0)
    client.promote()
    st = client.status()
    assert st["active"] == "blue" and st["canary_weight"] == 0

    client.rollback()
    assert client.status()["active"] == "green"

    kinds = [e["type"] for e in client.history()]
    assert kinds == ["switch", "weight_changed", "rollback", "weight_changed", "promote", "rollback"]
    events = client.history()
    assert all("at" in e and "reason" in e for e in events)
    assert events[2]["reason"] == "testing"


def test_health_check(client: turnout.Client, green: Sim) -> None:
    ok = client.health_check("green")
    assert ok["environment"] == "green" and ok["healthy"] is True and ok["error"] is None
    green.faults(error_rate=1.0, error_status=503)
    bad = client.health_check("green")
    assert bad["healthy"] is False and "503" in bad["error"]


def test_on_event_callbacks(client: turnout.Client, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[dict[str, Any]] = []
    sub = client.on_event(seen.append)

    def broken(event: dict[str, Any]) -> None:
        raise ValueError("callback bug")

    client.on_event(broken)
    with caplog.at_level("ERROR", logger="turnout"):
        client.switch_to("green")
    # The broken callback was logged and did not stop the switch or the other callback.
    assert client.status()["active"] == "green"
    assert [e["type"] for e in seen] == ["switch"]
    assert seen[0]["active"] == "green" and seen[0]["from_active"] == "blue"
    assert any("callback bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    assert sub.unsubscribe() is True
    assert sub.unsubscribe() is False
    client.switch_to("blue")
    assert len(seen) == 1
    with pytest.raises(TypeError):
        client.on_event(42)  # type: ignore[arg-type]


def test_event_from_engine_thread(blue: Sim, green: Sim) -> None:
    """A circuit opening happens on a runtime thread: the callback still runs, with the GIL."""
    seen: list[str] = []
    kwargs = client_kwargs(
        blue,
        green,
        circuit_breaker=turnout.CircuitBreaker(failure_threshold=2, cooldown=30.0),
        retry=turnout.RetryPolicy(max_attempts=1),
    )
    with turnout.Client(**kwargs) as c:
        c.on_event(lambda e: seen.append(e["type"]))
        blue.faults(error_rate=1.0, error_status=500)
        for _ in range(2):
            with pytest.raises(turnout.InternalServerError):
                c.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
        assert "circuit_opened" in seen
        assert c.status()["environments"]["blue"]["circuit"] == "open"


def test_close_and_context_manager(blue: Sim, green: Sim) -> None:
    with turnout.Client(**client_kwargs(blue, green)) as c:
        assert not c.is_closed
        c.chat.completions.create(model="m", messages=MESSAGES)
    assert c.is_closed
    with pytest.raises(turnout.ClientClosedError):
        c.chat.completions.create(model="m", messages=MESSAGES)
    c2 = turnout.Client(**client_kwargs(blue, green))
    c2.close()
    c2.close()
    assert c2.is_closed


def test_from_config_file_and_dict(
    tmp_path: Path, blue: Sim, green: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_BLUE_KEY", BLUE_KEY)
    path = tmp_path / "turnout.yaml"
    path.write_text(
        f"""
environments:
  blue: {{base_url: "{blue.url}", api_key: "${{TEST_BLUE_KEY}}", label: v1}}
  green: {{base_url: "{green.url}", api_key: "{GREEN_KEY}", label: v2}}
active: green
canary_weight: 0
health_check: {{enabled: false}}
"""
    )
    c = turnout.Client.from_config(path)
    assert isinstance(c, turnout.Client)
    assert c.status()["active"] == "green"
    assert c.chat.completions.create(model="m", messages=MESSAGES, environment="blue").route.label == "v1"
    c.close()
    c2 = turnout.Client.from_config(str(path))
    assert c2.status()["active"] == "green"
    c2.close()
    c3 = turnout.Client.from_config(
        {
            "environments": {
                "blue": {"base_url": blue.url, "api_key": BLUE_KEY},
                "green": {"base_url": green.url, "api_key": GREEN_KEY},
            },
            "health_check": {"enabled": False},
        }
    )
    assert c3.chat.completions.create(model="m", messages=MESSAGES).route.environment == "blue"
    c3.close()
    ac = turnout.AsyncClient.from_config(path)
    assert isinstance(ac, turnout.AsyncClient)
    ac._close()


def test_config_errors_name_the_field(blue: Sim, green: Sim, tmp_path: Path) -> None:
    with pytest.raises(turnout.ConfigError, match="canary_weight"):
        turnout.Client(**client_kwargs(blue, green, canary_weight=150.0))
    with pytest.raises(turnout.ConfigError, match="base_url"):
        turnout.Client(blue=turnout.Environment("not a url"), green=green.url)
    with pytest.raises(turnout.ConfigError, match="retry.max_attempts"):
        turnout.RetryPolicy(max_attempts="many")
    with pytest.raises(turnout.ConfigError, match="jitter"):
        turnout.RetryPolicy(jitter="sometimes")
    with pytest.raises(TypeError, match="max_attempt"):
        turnout.RetryPolicy(max_attempt=3)
    with pytest.raises(turnout.ConfigError, match="environments"):
        turnout.Client.from_config({"environment": {}})
    with pytest.raises(turnout.ConfigError, match="extension"):
        turnout.Client.from_config(tmp_path / "turnout.ini")
    with pytest.raises(TypeError):
        turnout.Client.from_config(42)  # type: ignore[arg-type]
    with pytest.raises(turnout.ConfigError, match="environment"):
        turnout.Rule(match={"tier": "x"}, environment="purple")
    with pytest.raises(turnout.ConfigError) as err:
        turnout.Client(**client_kwargs(blue, green, active="yellow"))
    assert isinstance(err.value, turnout.TurnoutError) and err.value.kind == "config"


def test_config_classes() -> None:
    retry = turnout.RetryPolicy(max_attempts=4, initial_backoff=0.2, jitter="equal")
    assert retry.max_attempts == 4 and retry.initial_backoff == 0.2 and retry.jitter == "equal"
    assert retry.max_backoff == 8.0  # the core's default
    assert retry == turnout.RetryPolicy(max_attempts=4, initial_backoff=0.2, jitter="equal")
    assert "max_attempts=4" in repr(retry)
    assert retry.to_dict()["multiplier"] == 2.0
    gate = turnout.RollbackPolicy(max_error_rate=None, max_p99_latency_ms=800.0)
    assert gate.max_error_rate is None and gate.max_p99_latency_ms == 800.0
    assert turnout.RollbackPolicy().max_error_rate == 0.05
    hc = turnout.HealthCheck(interval=10.0, path="/models")
    assert hc.interval == 10.0 and hc.enabled is True
    cb = turnout.CircuitBreaker(failure_threshold=5, cooldown=30.0)
    assert cb.failure_threshold == 5
    rl = turnout.RateLimit(max_concurrency=8)
    assert rl.max_concurrency == 8 and rl.requests_per_minute is None
    rule = turnout.Rule(match={"tier": "premium"}, environment="green")
    assert rule.match == {"tier": "premium"} and rule.environment == "green"
    env = turnout.Environment(
        "https://a.example/v1/", api_key=BLUE_KEY, label="v1", headers={"X-A": "1"}, timeout=3.0
    )
    assert env.base_url == "https://a.example/v1/" and env.label == "v1"
    assert env.headers == {"X-A": "1"} and env.timeout == 3.0
    assert env.key_fingerprint.endswith("BLUE")
    assert not hasattr(env, "api_key")


def test_dict_sections_are_accepted(blue: Sim, green: Sim) -> None:
    with turnout.Client(
        blue={"base_url": blue.url, "api_key": BLUE_KEY},
        green={"base_url": green.url, "api_key": GREEN_KEY},
        retry={"max_attempts": 2},
        health_check={"enabled": False},
        rules=[{"match": {"a": "b"}, "environment": "green"}],
        model_fallbacks={"gpt-x": ["gpt-4o"]},
        rollback={"max_error_rate": 0.5},
        circuit_breaker={"failure_threshold": 3},
        rate_limit={"max_concurrency": 4},
        stats_window=30.0,
        connect_timeout=2.0,
    ) as c:
        assert (
            c.chat.completions.create(model="m", messages=MESSAGES, metadata={"a": "b"}).route.environment
            == "green"
        )


def test_model_fallback(blue: Sim, green: Sim) -> None:
    blue.faults(missing_models=["gpt-4.1"])
    with turnout.Client(**client_kwargs(blue, green, model_fallbacks={"gpt-4.1": ["gpt-4o"]})) as c:
        resp = c.chat.completions.create(model="gpt-4.1", messages=MESSAGES, environment="blue")
    assert resp.route.model == "gpt-4o"
    assert resp.route.fallback_from == "gpt-4.1"


def test_failover_counts_attempts(blue: Sim, green: Sim) -> None:
    blue.faults(fail_next=1, error_status=503)
    with turnout.Client(**client_kwargs(blue, green)) as c:
        resp = c.chat.completions.create(model="m", messages=MESSAGES)
    assert resp.route.environment == "green"
    assert resp.route.attempts == 2


def test_no_key_in_any_repr(client: turnout.Client, blue: Sim) -> None:
    env = turnout.Environment(blue.url, api_key=BLUE_KEY, label="v1")
    texts = [repr(env), str(env), repr(client), str(client), repr(client.status())]
    blue.faults(error_rate=1.0, error_status=401)
    with pytest.raises(turnout.AuthenticationError) as err:
        client.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    texts += [repr(err.value), str(err.value), repr(err.value.body)]
    resp_err = None
    try:
        turnout.Client(blue=turnout.Environment("nope", api_key=BLUE_KEY), green=env)
    except turnout.ConfigError as e:
        resp_err = e
    assert resp_err is not None
    texts += [repr(resp_err), str(resp_err)]
    for text in texts:
        assert BLUE_KEY not in text and GREEN_KEY not in text
        assert "0123456789" not in text and "9876543210" not in text
    assert "blue=" in repr(client) and "active=blue" in repr(client)
    assert repr(client).startswith("<turnout.Client ")


def test_no_secret_of_a_base_url_in_the_repr_or_a_checkpoint(blue: Sim, green: Sim) -> None:
    """A gateway URL carrying a token (or a password) is masked where the client shows it."""
    token = "sk-live-abc123def456ghi789"
    url = blue.url.replace("http://", "http://user:pw-secret-1@") + f"/t/{token}"
    env = turnout.Environment(url, api_key=BLUE_KEY)
    kwargs = client_kwargs(blue, green)
    kwargs["blue"] = env
    with turnout.Client(**kwargs) as c:
        texts = [repr(c), str(c), repr(c.checkpoint("before")), repr(c.checkpoints())]
    for text in texts:
        assert token not in text and "pw-secret-1" not in text, text
    assert "/t/****" in repr(c)


def test_bucket_function() -> None:
    b = turnout.bucket("s1", "user-42")
    assert 0 <= b < 10_000 and b == turnout.bucket("s1", "user-42")


def test_rollout_checkpoints_metrics_costs(client: turnout.Client) -> None:
    plan = turnout.RolloutPlan(
        steps=[turnout.Step(weight=5, hold=3600, min_requests=100), {"weight": 50}, turnout.Step(weight=100)],
        gates=turnout.RollbackPolicy(max_error_rate=0.05),
        interval=10.0,
        failure_limit=2,
        step_deadline=7200.0,
    )
    assert [s.weight for s in plan.steps] == [5, 50, 100]
    assert plan.gates.max_error_rate == 0.05 and plan.interval == 10.0 and plan.failure_limit == 2
    assert plan.step_deadline == 7200.0 and plan.steps[0].hold == 3600 and plan.steps[0].min_requests == 100
    assert "Step(weight=5.0" in repr(plan)
    with pytest.raises(turnout.ConfigError, match="steps"):
        turnout.RolloutPlan(steps=[turnout.Step(weight=50), turnout.Step(weight=10)])
    assert client.rollout() is None
    started = client.start_rollout(plan)
    assert started["state"] == "running" and started["weight"] == 5
    assert client.status()["rollout"]["state"] == "running"
    assert client.pause_rollout()["state"] == "paused"
    assert client.resume_rollout()["state"] == "running"
    assert client.abort_rollout("not today")["state"] == "aborted"
    assert client.rollout()["state"] == "aborted"
    assert client.status()["canary_weight"] == 0
    # A plan can be a plain dict too.
    assert client.start_rollout({"steps": [{"weight": 20}, {"weight": 100}], "interval": 60})["weight"] == 20
    client.abort_rollout()

    cp = client.checkpoint("before-switch")
    assert set(cp) >= {"id", "name", "hash", "created_at"}
    client.switch_to("green")
    assert client.status()["active"] == "green"
    restored = client.restore_checkpoint(cp["id"])
    assert restored["active"] == "blue" and client.status()["active"] == "blue"
    assert cp["id"] in [c["id"] for c in client.checkpoints()]
    with pytest.raises(turnout.UnknownCheckpointError):
        client.restore_checkpoint("cp-does-not-exist")
    kinds = [e["type"] for e in client.history()]
    assert "rollout_started" in kinds and "checkpoint_restored" in kinds

    resp = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, metadata={"team": "search"})
    text = client.metrics_text()
    assert "turnout" in text and text.rstrip().endswith("# EOF")
    assert "text" in turnout.METRICS_CONTENT_TYPE
    costs = client.costs()
    assert costs["total"]["requests"] == 1
    assert costs["total"]["prompt_tokens"] == resp.usage.prompt_tokens
    assert costs["by_environment"]["blue"]["requests"] == 1
    assert costs["by_tag"]["search"]["requests"] == 1
    # gpt-4o-mini is in the built-in price table.
    assert resp.route.cost_usd is not None and resp.route.cost_usd > 0
    assert costs["total"]["cost_usd"] == pytest.approx(resp.route.cost_usd)


def test_a_client_in_a_cycle_with_its_callback_is_collected(blue: Sim, green: Sim) -> None:
    import gc
    import weakref

    def build() -> weakref.ref[turnout.Client]:
        c = turnout.Client(**client_kwargs(blue, green))
        c.on_event(lambda e: c.status())  # the callback refers to its client: a reference cycle
        return weakref.ref(c)

    ref = build()
    gc.collect()
    assert ref() is None


def test_metrics_listener(blue: Sim, green: Sim) -> None:
    import urllib.request

    with turnout.Client(**client_kwargs(blue, green, metrics={"listen": "127.0.0.1:0"})) as c:
        c.chat.completions.create(model="m", messages=MESSAGES)
        address = c.metrics_address()
        assert address is not None and address.startswith("127.0.0.1:")
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as resp:
            assert "turnout" in resp.read().decode()
    with turnout.Client(**client_kwargs(blue, green)) as c:
        assert c.metrics_address() is None


def test_responses_resource_streams_and_follows_its_conversation(blue: Sim, green: Sim) -> None:
    with turnout.Client(**client_kwargs(blue, green, canary_weight=50.0)) as c:
        sides = set()
        for i in range(20):
            events = list(c.responses.create(model="gpt-4.1", input=f"hi {i}", stream=True))
            assert events[0]["type"] == "response.created"
            assert events[-1]["type"] == "response.completed"
            first_id = events[0]["response"]["id"]
            follow = c.responses.create(model="gpt-4.1", input="and?", previous_response_id=first_id)
            assert follow["previous_response_id"] == first_id
            assert follow.route.reason == "affinity"
            sides.add(follow.route.environment)
        assert sides == {"blue", "green"}
        assert c.costs()["total"]["requests"] == 40


async def test_async_responses_resource(aclient: turnout.AsyncClient) -> None:
    first = await aclient.responses.create(model="gpt-4.1", input="hello")
    assert first["object"] == "response"
    stream = await aclient.responses.create(
        model="gpt-4.1", input="x y", previous_response_id=first["id"], stream=True
    )
    kinds = [e["type"] async for e in stream]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert stream.route.environment == first.route.environment
