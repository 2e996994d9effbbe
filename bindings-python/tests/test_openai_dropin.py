"""Drop-in fidelity under the official openai client (SEMANTICS.md, *Under the official SDKs*):
files, batches, the Responses API, audio, every header, and no retries on top of turnout —
with the real SDK through HttpxTransport and AsyncHttpxTransport, against two simulators
whose object ids are their own (a request sent to the wrong side gets a real 404).

Runs with whichever openai major is installed; test_openai_majors.py runs it again under the
other one."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

import turnout
from conftest import BLUE_KEY, GREEN_KEY, MESSAGES, Sim, client_kwargs

BATCH_INPUT = b'{"custom_id":"1","method":"POST","url":"/v1/chat/completions","body":{}}\n'
ROUNDS = 100


def official(client: turnout.Client, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(
        api_key="unused",
        base_url="http://turnout/v1",
        http_client=httpx.Client(transport=turnout.HttpxTransport(client)),
        **kwargs,
    )


def official_async(client: turnout.AsyncClient, **kwargs: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="unused",
        base_url="http://turnout/v1",
        http_client=httpx.AsyncClient(transport=turnout.AsyncHttpxTransport(client)),
        **kwargs,
    )


@pytest.fixture
def canary(blue: Sim, green: Sim) -> Iterator[turnout.Client]:
    """Half of the traffic on each side, no routing key: only affinity keeps objects on theirs."""
    with turnout.Client(**client_kwargs(blue, green, canary_weight=50.0)) as c:
        yield c


def side(raw: Any) -> str:
    return str(raw.headers["x-turnout-environment"])


def test_files_then_batches_stay_on_the_side_that_has_the_file(canary: turnout.Client) -> None:
    seen = set()
    with official(canary, max_retries=0) as sdk:
        for i in range(ROUNDS):
            up = sdk.files.with_raw_response.create(file=(f"in{i}.jsonl", BATCH_INPUT), purpose="batch")
            batch = sdk.batches.with_raw_response.create(
                input_file_id=up.parse().id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            assert side(batch) == side(up), f"round {i}"
            assert batch.parse().input_file_id == up.parse().id
            seen.add(side(up))
    assert seen == {"blue", "green"}, "the canary sent uploads to both sides"


async def test_files_then_batches_through_the_async_transport(blue: Sim, green: Sim) -> None:
    seen = set()
    async with turnout.AsyncClient(**client_kwargs(blue, green, canary_weight=50.0)) as c:
        async with official_async(c, max_retries=0) as sdk:
            for i in range(ROUNDS):
                up = await sdk.files.with_raw_response.create(
                    file=(f"in{i}.jsonl", BATCH_INPUT), purpose="batch"
                )
                batch = await sdk.batches.with_raw_response.create(
                    input_file_id=up.parse().id, endpoint="/v1/chat/completions", completion_window="24h"
                )
                assert side(batch) == side(up), f"round {i}"
                seen.add(side(up))
    assert seen == {"blue", "green"}


def test_a_conversation_follows_its_first_response(canary: turnout.Client) -> None:
    seen = set()
    with official(canary, max_retries=0) as sdk:
        for i in range(ROUNDS // 2):
            first = sdk.responses.with_raw_response.create(model="gpt-4.1", input=f"turn {i}")
            follow = sdk.responses.with_raw_response.create(
                model="gpt-4.1", input="and then?", previous_response_id=first.parse().id
            )
            assert side(follow) == side(first), f"round {i}"
            assert follow.headers["x-turnout-attempts"] == "1"
            seen.add(side(first))
            # Streamed: the id comes with the first event.
            stream = sdk.responses.create(model="gpt-4.1", input=f"stream {i}", stream=True)
            events = list(stream)
            created = events[0]
            assert created.type == "response.created"
            assert events[-1].type == "response.completed"
            streamed_on = side(stream.response)
            follow = sdk.responses.with_raw_response.create(
                model="gpt-4.1", input="more", previous_response_id=created.response.id
            )
            assert side(follow) == streamed_on, f"streamed round {i}"
    assert seen == {"blue", "green"}
    usage = canary.costs()["total"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0, "Responses usage is counted"


async def test_a_conversation_follows_its_first_response_async(blue: Sim, green: Sim) -> None:
    async with turnout.AsyncClient(**client_kwargs(blue, green, canary_weight=50.0)) as c:
        async with official_async(c, max_retries=0) as sdk:
            for i in range(ROUNDS // 4):
                stream = await sdk.responses.create(model="gpt-4.1", input=f"stream {i}", stream=True)
                events = [e async for e in stream]
                first_id = events[0].response.id
                follow = await sdk.responses.with_raw_response.create(
                    model="gpt-4.1", input="more", previous_response_id=first_id
                )
                assert side(follow) == side(stream.response), f"round {i}"


def speech_from(sim: Sim, key: str, body: dict[str, Any]) -> bytes:
    """What the simulator itself answers to this speech request."""
    req = urllib.request.Request(
        sim.url + "/audio/speech",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json", "authorization": f"Bearer {key}"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        return bytes(resp.read())


def test_speech_comes_back_byte_for_byte_and_counts_as_a_success(
    client: turnout.Client, blue: Sim, green: Sim
) -> None:
    with official(client, max_retries=0) as sdk:
        speech = sdk.audio.speech.create(model="tts-1", voice="alloy", input="hello world")
        audio = speech.content
    assert speech.response.headers["content-type"] == "audio/mpeg"
    sent = {"model": "tts-1", "voice": "alloy", "input": "hello world"}
    assert audio == speech_from(blue, BLUE_KEY, sent)
    assert len(audio) > 1000
    window = client.status()["environments"]["blue"]["window"]
    assert (window["successes"], window["failures"]) == (1, 0)


def test_every_header_the_sdk_sets_arrives(client: turnout.Client, blue: Sim) -> None:
    extra = {"Idempotency-Key": "idem-42", "OpenAI-Beta": "assistants=v2", "X-Trace-Id": "trace-7"}
    with official(client, max_retries=0) as sdk:
        sdk.chat.completions.create(model="m", messages=MESSAGES, extra_headers=extra)  # type: ignore[arg-type]
    [logged] = [r for r in blue.requests() if r["path"] == "/v1/chat/completions"]
    headers = logged["headers"]
    assert headers["idempotency-key"] == "idem-42"
    assert headers["openai-beta"] == "assistants=v2"
    assert headers["x-trace-id"] == "trace-7"
    assert headers["x-stainless-lang"] == "python", "the SDK's own headers too"
    assert headers["user-agent"].startswith("OpenAI/Python")
    assert headers["authorization"].endswith(BLUE_KEY[-4:]), "the side's key, not the SDK's"


def test_the_sdk_never_retries_on_top_of_turnout(blue: Sim, green: Sim) -> None:
    blue.faults(error_rate=1.0, error_status=500)
    green.faults(error_rate=1.0, error_status=500)
    kwargs = client_kwargs(blue, green, retry=turnout.RetryPolicy(max_attempts=3, initial_backoff=0.001))
    with turnout.Client(**kwargs) as c, official(c, max_retries=2) as sdk:
        with pytest.raises(openai.InternalServerError) as failed:
            sdk.chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    assert failed.value.response.headers["x-should-retry"] == "false"
    upstream = blue.chat_count() + green.chat_count()
    assert upstream == 3, f"max_attempts (3) reached the upstreams, not {upstream}"


def test_a_file_upload_that_timed_out_is_not_sent_to_the_other_side(blue: Sim, green: Sim) -> None:
    blue.faults(latency_ms=1500)
    kwargs = client_kwargs(blue, green, timeout=0.2, retry=turnout.RetryPolicy(max_attempts=3))
    with turnout.Client(**kwargs) as c, official(c, max_retries=2) as sdk:
        with pytest.raises(openai.InternalServerError) as failed:
            sdk.files.create(file=("in.jsonl", BATCH_INPUT), purpose="batch")
        assert failed.value.status_code == 504
        environments = c.status()["environments"]
    assert environments["blue"]["window"]["failures"] == 1, "sent once, not repeated"
    assert green.stats()["by_path"].get("/v1/files", 0) == 0, "never failed over"
    assert environments["green"]["window"]["requests"] == 0


def test_routing_headers_turnout_cannot_read_raise_the_sdks_own_error(
    client: turnout.Client, blue: Sim, green: Sim
) -> None:
    with official(client, max_retries=2) as sdk:
        with pytest.raises(openai.BadRequestError, match="purple"):
            sdk.chat.completions.create(
                model="m",
                messages=MESSAGES,  # type: ignore[arg-type]
                extra_headers={"x-turnout-environment": "purple"},
            )
        with pytest.raises(openai.BadRequestError, match="x-turnout-metadata"):
            sdk.models.list(extra_headers={"x-turnout-metadata": "{not json"})
    assert blue.stats()["total"] + green.stats()["total"] == 0, "nothing was sent, nothing retried"


def test_green_key_reaches_green(client: turnout.Client, green: Sim) -> None:
    with official(client, max_retries=0) as sdk:
        sdk.files.create(
            file=("x.jsonl", BATCH_INPUT), purpose="batch", extra_headers={"x-turnout-environment": "green"}
        )
    [logged] = green.requests()
    assert logged["headers"]["authorization"].endswith(GREEN_KEY[-4:])
    assert logged["content_type"].startswith("multipart/form-data")
