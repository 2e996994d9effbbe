"""Every public method of the AsyncClient, and concurrency."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import turnout
from conftest import MESSAGES, Sim, client_kwargs


async def test_chat_embeddings_models_request(aclient: turnout.AsyncClient, blue: Sim) -> None:
    resp = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, routing_key="u1")
    assert resp.choices[0].message.content.startswith("Echo: hello")
    assert resp.usage.total_tokens > 0
    assert resp.route.environment == "blue" and resp.route.attempts == 1
    assert resp.to_dict()["object"] == "chat.completion"
    emb = await aclient.embeddings.create(model="text-embedding-3-small", input="x")
    assert len(emb.data[0].embedding) == 8
    models = await aclient.models.list()
    assert "gpt-4o" in [m.id for m in models]
    one = await aclient.models.retrieve("gpt-4o")
    assert one.id == "gpt-4o"
    raw = await aclient.request("POST", "/embeddings", json={"model": "e", "input": "y"})
    assert raw.data[0].object == "embedding"
    stream = await aclient.request(
        "POST", "/chat/completions", json={"model": "m", "messages": MESSAGES, "stream": True}, stream=True
    )
    assert [c async for c in stream]
    pinned = await aclient.chat.completions.create(model="m", messages=MESSAGES, environment="green")
    assert pinned.route.environment == "green"
    assert blue.chat_count() == 2  # the plain call and the stream


async def test_operations(aclient: turnout.AsyncClient, green: Sim) -> None:
    seen: list[str] = []
    sub = aclient.on_event(lambda e: seen.append(e["type"]))
    assert (await aclient.status())["active"] == "blue"
    await aclient.switch_to("green")
    await aclient.set_canary_weight(10.0)
    await aclient.rollback("because")
    await aclient.set_canary_weight(50.0)
    await aclient.promote()
    st = await aclient.status()
    assert st["active"] == "blue" and st["canary_weight"] == 0
    probe = await aclient.health_check("green")
    assert probe["healthy"] is True and probe["environment"] == "green"
    history = await aclient.history()
    assert (
        [e["type"] for e in history]
        == seen
        == [
            "switch",
            "weight_changed",
            "rollback",
            "weight_changed",
            "promote",
        ]
    )
    sub.unsubscribe()
    cp = await aclient.checkpoint("pre-v2")
    assert cp["name"] == "pre-v2" and len(cp["hash"]) == 64
    assert any(c["id"] == cp["id"] for c in await aclient.checkpoints())
    await aclient.switch_to("green")
    restored = await aclient.restore_checkpoint(cp["id"])
    assert restored["active"] == "blue"
    assert "turnout" in await aclient.metrics_text()
    assert await aclient.metrics_address() is None
    costs = await aclient.costs()
    assert "total" in costs and "by_environment" in costs


async def test_rollout_operations(aclient: turnout.AsyncClient) -> None:
    plan = turnout.RolloutPlan(
        steps=[turnout.Step(weight=5, hold=3600, min_requests=100), turnout.Step(weight=100)],
        gates=turnout.RollbackPolicy(max_error_rate=0.05),
        interval=10.0,
    )
    assert await aclient.rollout() is None
    started = await aclient.start_rollout(plan)
    assert started["state"] == "running" and started["candidate"] == "green"
    assert (await aclient.status())["canary_weight"] == 5
    assert (await aclient.pause_rollout())["state"] == "paused"
    assert (await aclient.resume_rollout())["state"] == "running"
    aborted = await aclient.abort_rollout("enough")
    assert aborted["state"] == "aborted"
    assert (await aclient.status())["canary_weight"] == 0
    with pytest.raises(turnout.NoRolloutError):
        await aclient.pause_rollout()


async def test_async_close_and_context_manager(blue: Sim, green: Sim) -> None:
    async with turnout.AsyncClient(**client_kwargs(blue, green)) as c:
        await c.chat.completions.create(model="m", messages=MESSAGES)
    assert c.is_closed
    with pytest.raises(turnout.ClientClosedError):
        await c.chat.completions.create(model="m", messages=MESSAGES)


async def test_async_errors_are_typed(aclient: turnout.AsyncClient, blue: Sim) -> None:
    blue.faults(error_rate=1.0, error_status=429, should_retry=False)
    with pytest.raises(turnout.RateLimitError) as err:
        await aclient.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    assert err.value.status_code == 429 and err.value.environment == "blue"


async def test_thousand_concurrent_requests(blue: Sim, green: Sim) -> None:
    async with turnout.AsyncClient(**client_kwargs(blue, green, canary_weight=50.0)) as c:

        async def one(i: int) -> str:
            resp = await c.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"n{i}"}], routing_key=f"user-{i}"
            )
            assert resp.choices[0].message.content == f"Echo: n{i}"
            return resp.route.environment

        sides = await asyncio.gather(*(one(i) for i in range(1000)))
    assert len(sides) == 1000
    assert blue.chat_count() + green.chat_count() == 1000
    # Sticky bucketing at 50 %: both sides serve a fair share.
    assert 350 < sides.count("green") < 650


async def test_cancelling_a_request(blue: Sim, aclient: turnout.AsyncClient) -> None:
    blue.faults(latency_ms=2000)
    task = asyncio.ensure_future(
        aclient.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    )
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    blue.faults()
    # The client is still fine afterwards.
    resp = await aclient.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    assert resp.route.environment == "blue"


# The two tests below prove that a call lets other Python code run by making the call depend on
# it: the upstream is served by Python itself (a coroutine on the caller's own event loop, a
# thread needing the GIL). If the call blocked the loop or held the GIL, the upstream could not
# answer and the call would fail with a timeout. No clock is read.

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-py",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "served by python"},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 3, "total_tokens": 4},
    }
).encode()


def http_answer(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )


def python_served_client_kwargs(url: str, green: Sim, **kw: Any) -> dict[str, Any]:
    """Blue is the Python-served upstream at `url`; one attempt, so a stuck upstream fails fast."""
    kwargs = client_kwargs(green, green, retry=turnout.RetryPolicy(max_attempts=1), timeout=5.0, **kw)
    kwargs["blue"] = turnout.Environment(url, api_key="sk-python-served")
    return kwargs


async def test_event_loop_keeps_running_during_requests(green: Sim) -> None:
    served = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal served
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        await reader.readexactly(length)
        served += 1
        writer.write(http_answer(COMPLETION))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with turnout.AsyncClient(
            **python_served_client_kwargs(f"http://127.0.0.1:{port}/v1", green)
        ) as c:
            resp = await c.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    finally:
        server.close()
        await server.wait_closed()
    # Answered by a coroutine of this very loop while the call was awaited.
    assert resp.choices[0].message.content == "served by python"
    assert served == 1


def test_gil_is_released_during_a_blocking_call(green: Sim) -> None:
    served = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            served.set()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(COMPLETION)))
            self.end_headers()
            self.wfile.write(COMPLETION)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        with turnout.Client(**python_served_client_kwargs(url, green)) as c:
            resp = c.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    finally:
        server.shutdown()
        server.server_close()
    # Answered by another Python thread, which needs the GIL, while this thread was in the call.
    assert resp.choices[0].message.content == "served by python"
    assert served.is_set()


def test_sync_client_from_many_threads(client: turnout.Client, blue: Sim, green: Sim) -> None:
    results: list[Any] = []

    def work(i: int) -> None:
        r = client.chat.completions.create(model="m", messages=[{"role": "user", "content": str(i)}])
        results.append(r.choices[0].message.content)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == sorted(f"Echo: {i}" for i in range(32))


def test_async_client_across_loops_and_threads(blue: Sim, green: Sim) -> None:
    """Each event loop (several in a row, several threads at once) completes its own futures."""
    client = turnout.AsyncClient(**client_kwargs(blue, green))

    async def use(tag: str) -> list[str]:
        answers = await asyncio.gather(
            *(
                client.chat.completions.create(model="m", messages=[{"role": "user", "content": f"{tag}{i}"}])
                for i in range(50)
            )
        )
        return [a.choices[0].message.content for a in answers]

    assert asyncio.run(use("a")) == [f"Echo: a{i}" for i in range(50)]
    assert asyncio.run(use("b")) == [f"Echo: b{i}" for i in range(50)]
    results: dict[int, list[str]] = {}

    def in_thread(n: int) -> None:
        results[n] = asyncio.run(use(f"t{n}-"))

    threads = [threading.Thread(target=in_thread, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(4):
        assert results[n] == [f"Echo: t{n}-{i}" for i in range(50)]
    client._close()


async def test_exceptions_and_results_in_one_batch(blue: Sim, aclient: turnout.AsyncClient) -> None:
    blue.faults(error_rate=0.5, error_status=400)
    calls = [
        aclient.chat.completions.create(model="m", messages=MESSAGES, environment="blue") for _ in range(200)
    ]
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    errors = [o for o in outcomes if isinstance(o, BaseException)]
    assert errors and all(isinstance(e, turnout.BadRequestError) for e in errors)
    assert len(errors) < 200


def test_a_signal_interrupts_a_blocking_call(blue: Sim, client: turnout.Client) -> None:
    """Python signal handlers (Ctrl-C) run while a call waits, and the exception cancels it."""
    import signal

    blue.faults(latency_ms=5000)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(KeyboardInterrupt):
            client.chat.completions.create(model="m", messages=MESSAGES, environment="blue")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # Interrupted before blue answered: the simulator counts a request once it has answered it,
    # so a call that ran to its end (the signal only raising afterwards) would show here.
    assert blue.chat_count() == 0


# An answer with what a JSON value tree could change: an integer past 64 bits, non-ASCII text,
# escapes, floats, nesting, null, and the key order.
FIXED_ANSWER = (
    '{"z": 1, "big": 1180591620717411303424, "neg": -9223372036854775809, "text": "żółć ☃ \\"q\\"",'
    ' "f": [1.5, -0.0, 1e-7], "nested": {"b": [true, false, null], "a": {}}, "a": "last"}'
)


class FixedAnswer:
    """An upstream answering every POST with FIXED_ANSWER and keeping the bodies it was sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                sent = self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.bodies.append(sent)
                streamed = json.loads(sent).get("stream") is True
                body = f"data: {FIXED_ANSWER}\n\ndata: [DONE]\n\n" if streamed else FIXED_ANSWER
                body = body.encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream" if streamed else "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_answers_decode_as_openai_python_decodes_them() -> None:
    """Blocking and asyncio answers, and their streamed chunks, are what `json.loads`
    (openai-python's decoder) makes of the body: integers past 64 bits stay exact, key order is
    kept; the body sent is the one given."""
    upstream = FixedAnswer()
    env = turnout.Environment(upstream.url, api_key="sk-fixed-000000")
    sent = {"model": "m", "n": 2**40, "text": "żółć", "tags": ("a", "b"), "none": None}
    streaming = {"model": "m", "stream": True}
    expected = json.loads(FIXED_ANSWER)
    try:
        with turnout.Client(blue=env, green=env) as client:
            blocking = client.request("POST", "/things", json=sent).to_dict()
            streamed = [c.to_dict() for c in client.request("POST", "/things", json=streaming, stream=True)]

        async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
            async with turnout.AsyncClient(blue=env, green=env) as aclient:
                answer = (await aclient.request("POST", "/things", json=sent)).to_dict()
                chunks = await aclient.request("POST", "/things", json=streaming, stream=True)
                return answer, [c.to_dict() async for c in chunks]

        awaited, astreamed = asyncio.run(run())
    finally:
        upstream.stop()
    assert len(streamed) == len(astreamed) == 1
    for data in (blocking, awaited, streamed[0], astreamed[0]):
        assert data == expected
        assert list(data) == list(expected)
        assert type(data["big"]) is int and data["big"] == 2**70
        assert data["neg"] == -(2**63) - 1
    given = {"model": "m", "n": 2**40, "text": "żółć", "tags": ["a", "b"], "none": None}
    assert [json.loads(b) for b in upstream.bodies] == [given, streaming] * 2
