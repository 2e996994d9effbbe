"""The official openai client, routed by turnout through HttpxTransport / AsyncHttpxTransport.

Runs with whichever openai major is installed; test_openai_majors.py runs this file again in
the venv of the other major."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

import turnout
from conftest import BLUE_KEY, MESSAGES, Sim, SlowStream, client_kwargs

OPENAI_MAJOR = int(openai.__version__.split(".")[0])
HAS_HTTPX2 = importlib.util.find_spec("httpx2") is not None


def official(client: turnout.Client, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="unused",
        base_url="http://turnout/v1",
        http_client=httpx.Client(transport=turnout.HttpxTransport(client)),
        **kwargs,
    )


@pytest.fixture
def sdk(client: turnout.Client) -> Iterator[openai.OpenAI]:
    with official(client, max_retries=0) as o:
        yield o


def test_chat_through_the_official_client(sdk: openai.OpenAI, blue: Sim, green: Sim) -> None:
    resp = sdk.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)  # type: ignore[arg-type]
    assert isinstance(resp, openai.types.chat.ChatCompletion)
    assert resp.choices[0].message.content == "Echo: hello there general kenobi"
    assert resp.usage is not None and resp.usage.total_tokens > 0
    # The simulator saw turnout's key for blue, not "unused".
    stats = blue.stats()
    assert stats["by_path"]["/v1/chat/completions"] == 1
    assert set(stats["auth_keys_seen"]) == {BLUE_KEY[-4:]}
    raw = sdk.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert raw.headers["x-turnout-environment"] == "blue"
    assert raw.parse().choices[0].message.content


def test_routing_options_ride_on_headers(sdk: openai.OpenAI, green: Sim) -> None:
    resp = sdk.chat.completions.with_raw_response.create(
        model="m",
        messages=MESSAGES,
        extra_headers={"x-turnout-environment": "green"},  # type: ignore[arg-type]
    )
    assert resp.headers["x-turnout-environment"] == "green"
    assert green.chat_count() == 1


def test_streaming_through_the_official_client(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
    )
    chunks = list(stream)
    # Every chunk has a choice: code written for openai indexes choices[0] unconditionally.
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Echo: one two three four"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streaming_with_usage(sdk: openai.OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model="m",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_stream_is_not_buffered_and_leaving_cancels(green: Sim) -> None:
    upstream = SlowStream()
    try:
        with (
            turnout.Client(
                blue=upstream.url, green=green.url, health_check=turnout.HealthCheck(enabled=False)
            ) as c,
            official(c, max_retries=0) as sdk,
        ):
            stream = sdk.chat.completions.create(model="slow", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
            first = next(iter(stream))
            # The first chunk reached the caller while the upstream was still writing.
            assert first.choices[0].delta.content == "w0 "
            assert upstream.written < 150
            stream.close()
            assert upstream.left.wait(3.0)
            assert upstream.written < 150
    finally:
        upstream.stop()


def test_cut_stream_surfaces_as_a_transport_error(sdk: openai.OpenAI, blue: Sim) -> None:
    blue.faults(truncate_after=2)
    stream = sdk.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "a b c d e f"}],
        stream=True,
        extra_headers={"x-turnout-environment": "blue"},  # type: ignore[arg-type]
    )
    # openai 2.x lets httpx's error through; 3.x wraps it in APIConnectionError.
    with pytest.raises((httpx.RemoteProtocolError, openai.APIError)) as err:
        list(stream)
    chain: list[BaseException] = []
    e: BaseException | None = err.value
    while e is not None:
        chain.append(e)
        e = e.__cause__ or e.__context__
    assert any(isinstance(x, turnout.StreamInterruptedError) for x in chain)


def test_embeddings_models_and_other_endpoints(sdk: openai.OpenAI) -> None:
    emb = sdk.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
    assert len(emb.data) == 2 and len(emb.data[0].embedding) == 8
    ids = [m.id for m in sdk.models.list()]
    assert "gpt-4o" in ids
    assert sdk.models.retrieve("gpt-4o").id == "gpt-4o"


@pytest.mark.parametrize(
    ("status", "exc"),
    [
        (400, openai.BadRequestError),
        (401, openai.AuthenticationError),
        (403, openai.PermissionDeniedError),
        (404, openai.NotFoundError),
        (422, openai.UnprocessableEntityError),
        (429, openai.RateLimitError),
        (500, openai.InternalServerError),
    ],
)
def test_upstream_errors_become_the_official_exceptions(
    blue: Sim, green: Sim, status: int, exc: type[Exception]
) -> None:
    blue.faults(error_rate=1.0, error_status=status)
    with turnout.Client(**client_kwargs(blue, green, retry=turnout.RetryPolicy(max_attempts=1))) as c:
        # The official client's own retries stay on: turnout says x-should-retry: false.
        with official(c, max_retries=2) as sdk:
            with pytest.raises(exc) as err:
                sdk.chat.completions.create(
                    model="m",
                    messages=MESSAGES,
                    extra_headers={"x-turnout-environment": "blue"},  # type: ignore[arg-type]
                )
    assert err.value.status_code == status  # type: ignore[attr-defined]
    assert blue.chat_count() == 1


def test_failures_without_an_answer_become_final_5xx_answers(blue: Sim, green: Sim) -> None:
    """A timeout is a 504 and a dropped connection a 502, both with ``x-should-retry: false``:
    the SDK raises at once, with its own retries left unused (turnout has retried already)."""
    blue.faults(latency_ms=1500)
    kwargs = client_kwargs(blue, green, retry=turnout.RetryPolicy(max_attempts=1), timeout=0.2)
    with turnout.Client(**kwargs) as c, official(c, max_retries=2) as sdk:
        pinned: Any = {"x-turnout-environment": "blue"}
        with pytest.raises(openai.InternalServerError) as timed_out:
            sdk.chat.completions.create(model="m", messages=MESSAGES, extra_headers=pinned)  # type: ignore[arg-type]
        assert timed_out.value.status_code == 504
        assert timed_out.value.response.headers["x-should-retry"] == "false"
        blue.faults(drop_connection=True)
        with pytest.raises(openai.InternalServerError) as dropped:
            sdk.chat.completions.create(model="m", messages=MESSAGES, extra_headers=pinned)  # type: ignore[arg-type]
        assert dropped.value.status_code == 502
        assert "blue" in str(dropped.value)
        window = c.status()["environments"]["blue"]["window"]
        assert window["failures"] == 2, "one attempt per call, however many the SDK allows"


def test_the_sdks_timeout_bounds_each_attempt(blue: Sim, green: Sim) -> None:
    """``OpenAI(timeout=...)`` reaches turnout as each attempt's bound: blue hangs past it, so
    the call fails over to green within the SDK's patience (turnout's own timeout is 10 s);
    pinned to blue, it is the final 504. A timeout configured shorter than the SDK's still wins."""
    blue.faults(latency_ms=1500)
    with turnout.Client(**client_kwargs(blue, green)) as c, official(c, max_retries=0, timeout=0.3) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert raw.headers["x-turnout-environment"] == "green"
        assert raw.headers["x-turnout-attempts"] == "2"
        pinned: Any = {"x-turnout-environment": "blue"}
        with pytest.raises(openai.InternalServerError) as timed_out:
            sdk.with_options(timeout=0.2).chat.completions.create(
                model="m",
                messages=MESSAGES,
                extra_headers=pinned,  # type: ignore[arg-type]
            )
        assert timed_out.value.status_code == 504
    shorter = client_kwargs(blue, green, timeout=0.2, retry=turnout.RetryPolicy(max_attempts=1))
    with turnout.Client(**shorter) as c, official(c, max_retries=0, timeout=60) as sdk:
        with pytest.raises(openai.InternalServerError) as timed_out:
            sdk.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert timed_out.value.status_code == 504


async def test_async_official_client(aclient: turnout.AsyncClient, green: Sim) -> None:
    async with openai.AsyncOpenAI(
        api_key="unused",
        base_url="http://turnout/v1",
        http_client=httpx.AsyncClient(transport=turnout.AsyncHttpxTransport(aclient)),
        max_retries=0,
    ) as sdk:
        resp = await sdk.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert resp.choices[0].message.content == "Echo: hello there general kenobi"
        stream = await sdk.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "x y z"}],
            stream=True,  # type: ignore[arg-type]
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert text == "Echo: x y z"
        green.faults(error_rate=1.0, error_status=429)
        with pytest.raises(openai.RateLimitError):
            await sdk.chat.completions.create(
                model="m",
                messages=MESSAGES,
                extra_headers={"x-turnout-environment": "green"},  # type: ignore[arg-type]
            )
        models = await sdk.models.list()
        assert any(m.id == "gpt-4o" for m in models.data)


@pytest.mark.skipif(not HAS_HTTPX2, reason="httpx2 (openai 3.x's HTTP client) is not installed")
def test_httpx2_client(client: turnout.Client) -> None:
    import httpx2  # type: ignore[import-not-found]

    with openai.OpenAI(
        api_key="unused",
        base_url="http://turnout/v1",
        http_client=httpx2.Client(transport=turnout.HttpxTransport(client)),
        max_retries=0,
    ) as sdk:
        resp = sdk.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
        assert resp.choices[0].message.content == "Echo: hello there general kenobi"
        text = "".join(
            c.choices[0].delta.content or ""
            for c in sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        )
        assert text == "Echo: hello there general kenobi"


@pytest.mark.skipif(not HAS_HTTPX2, reason="httpx2 (openai 3.x's HTTP client) is not installed")
async def test_httpx2_async_client(aclient: turnout.AsyncClient) -> None:
    import httpx2

    async with openai.AsyncOpenAI(
        api_key="unused",
        base_url="http://turnout/v1",
        http_client=httpx2.AsyncClient(transport=turnout.AsyncHttpxTransport(aclient)),
        max_retries=0,
    ) as sdk:
        stream = await sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        text = "".join([c.choices[0].delta.content or "" async for c in stream])
        assert text == "Echo: hello there general kenobi"


def test_openai_major_is_known() -> None:
    assert OPENAI_MAJOR in (2, 3)
