"""Streams, sync and async: complete, cut after data (StreamInterruptedError), left early
(the upstream request is cancelled), and failing before the first chunk."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import pytest

import turnout
from conftest import MESSAGES, Sim, SlowStream, client_kwargs

LONG = [{"role": "user", "content": "one two three four five six seven eight nine ten"}]


def test_complete_stream(client: turnout.Client) -> None:
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=LONG, stream=True)
    assert isinstance(stream, turnout.Stream)
    assert stream.route.environment == "blue" and stream.route.model == "gpt-4o-mini"
    chunks = list(stream)
    # Every chunk has choices: the usage chunk turnout asked for (to price the request) is
    # not shown to a caller who did not ask for it.
    assert all(c.choices for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "Echo: one two three four five six seven eight nine ten"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[0].object == "chat.completion.chunk"
    # Exhausted: iterating again gives nothing.
    assert list(stream) == []


def test_usage_chunk_when_asked(client: turnout.Client) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=LONG, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0


async def test_complete_async_stream(aclient: turnout.AsyncClient) -> None:
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=LONG, stream=True)
    assert isinstance(stream, turnout.AsyncStream)
    assert stream.route.environment == "blue"
    text = ""
    async for chunk in stream:
        text += chunk.choices[0].delta.content or ""
    assert text == "Echo: one two three four five six seven eight nine ten"
    async with stream:
        pass


def test_cut_stream_raises_stream_interrupted(client: turnout.Client, blue: Sim) -> None:
    blue.faults(truncate_after=3)
    stream = client.chat.completions.create(model="m", messages=LONG, stream=True, environment="blue")
    got: list[Any] = []
    with pytest.raises(turnout.StreamInterruptedError) as err:
        for chunk in stream:
            got.append(chunk)
    assert len(got) >= 3
    assert isinstance(err.value, turnout.APIError)
    assert err.value.environment == "blue" and err.value.kind == "stream_interrupted"
    # Never retried after data reached the caller.
    assert blue.chat_count() == 1


async def test_cut_async_stream_raises_stream_interrupted(aclient: turnout.AsyncClient, blue: Sim) -> None:
    blue.faults(truncate_after=2)
    stream = await aclient.chat.completions.create(model="m", messages=LONG, stream=True, environment="blue")
    with pytest.raises(turnout.StreamInterruptedError):
        async for _ in stream:
            pass


def test_stream_failing_before_first_chunk_raises_at_create(blue: Sim, green: Sim) -> None:
    blue.faults(error_rate=1.0, error_status=503)
    kwargs = client_kwargs(blue, green, retry=turnout.RetryPolicy(max_attempts=2, initial_backoff=0.01))
    with turnout.Client(**kwargs) as c:
        with pytest.raises(turnout.InternalServerError) as err:
            c.chat.completions.create(model="m", messages=MESSAGES, stream=True, environment="blue")
        assert err.value.status_code == 503
        # Not pinned: the stream fails over to green before anything reached the caller.
        stream = c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert stream.route.environment == "green" and stream.route.attempts == 2
        assert list(stream)


@pytest.fixture
def slow(green: Sim) -> Iterator[turnout.Client]:
    upstream = SlowStream()
    c = turnout.Client(
        blue=upstream.url,
        green=green.url,
        health_check=turnout.HealthCheck(enabled=False),
    )
    c.upstream = upstream  # type: ignore[attr-defined]
    yield c
    c.close()
    upstream.stop()


def test_leaving_a_stream_early_cancels_the_upstream(slow: turnout.Client) -> None:
    upstream: SlowStream = slow.upstream  # type: ignore[attr-defined]
    for i, _chunk in enumerate(slow.chat.completions.create(model="slow", messages=MESSAGES, stream=True)):
        if i == 2:
            break
    gc.collect()
    # The upstream sees the connection go long before its 200 chunks (4 s) are written.
    assert upstream.left.wait(3.0)
    assert upstream.written < 150


def test_closing_a_stream_cancels_the_upstream(slow: turnout.Client) -> None:
    upstream: SlowStream = slow.upstream  # type: ignore[attr-defined]
    with slow.chat.completions.create(model="slow", messages=MESSAGES, stream=True) as stream:
        next(stream)
    assert upstream.left.wait(3.0)
    assert list(stream) == []


async def test_leaving_an_async_stream_early_cancels_the_upstream(slow: turnout.Client, green: Sim) -> None:
    upstream: SlowStream = slow.upstream  # type: ignore[attr-defined]
    async with turnout.AsyncClient(
        blue=upstream.url, green=green.url, health_check=turnout.HealthCheck(enabled=False)
    ) as c:
        stream = await c.chat.completions.create(model="slow", messages=MESSAGES, stream=True)
        n = 0
        async for _ in stream:
            n += 1
            if n == 3:
                break
        del stream
        gc.collect()
        for _ in range(300):
            if upstream.left.is_set():
                break
            await asyncio.sleep(0.01)
        assert upstream.left.is_set()
        assert upstream.written < 150
