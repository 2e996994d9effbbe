"""``Client`` and ``AsyncClient``: the OpenAI-style faces of the native ``BaseClient``."""

from __future__ import annotations

import functools
import inspect
import re
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlencode

from . import _turnout
from ._types import AsyncStream, Page, Response, Stream

if TYPE_CHECKING:
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["Client", "AsyncClient"]

Event = dict[str, Any]
Priority = Literal["high", "normal", "low"]


def _body(params: dict[str, Any], extra_body: Mapping[str, Any] | None) -> dict[str, Any]:
    if extra_body:
        params.update(extra_body)
    return params


def _path(path: str, extra_query: Mapping[str, Any] | None) -> str:
    if not extra_query:
        return path
    return f"{path}{'&' if '?' in path else '?'}{urlencode(extra_query, doseq=True)}"


def _no_headers(extra_headers: Mapping[str, str] | None) -> None:
    if extra_headers:
        raise TypeError(
            "turnout sends each environment's own headers (Environment(headers=...)); "
            "per-request extra_headers are not supported"
        )


_UNEXPECTED = re.compile(r"unexpected keyword argument '([^']+)'")


def _hinted(error: TypeError, name: str, accepted: Callable[..., Any]) -> TypeError:
    """``error`` with a "did you mean" hint when it is about a misspelt keyword, by the rule
    config files use (the core's ``suggest``)."""
    match = _UNEXPECTED.search(str(error))
    if match is None:
        return error
    try:
        params = inspect.signature(accepted).parameters
    except (TypeError, ValueError):
        return error
    names = [p for p in params if not p.startswith("_")]
    unknown = match.group(1)
    hint = _turnout._suggest(unknown, names)
    message = f"{name}() got an unexpected keyword argument {unknown!r}"
    if hint is not None:
        message += f"; did you mean {hint!r}?"
    return TypeError(message)


# --- sync resources ------------------------------------------------------------------------


class Completions:
    """``client.chat.completions``."""

    _endpoint = "/chat/completions"

    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    def create(
        self,
        *,
        stream: Literal[True],
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Stream: ...

    @overload
    def create(
        self,
        *,
        stream: Literal[False] | None = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Response: ...

    def create(
        self,
        *,
        stream: bool | None = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Response | Stream:
        """A chat completion. Every OpenAI parameter passes through as a keyword; the routing
        options are ``routing_key`` (sticky bucketing; defaults to ``user``), ``environment``
        (pin to "blue" or "green"), ``metadata`` (matched against rules) and ``timeout``
        (seconds, per attempt), ``deadline`` (seconds, the whole call: limiter wait, attempts,
        backoff, a stream to its end), ``priority`` ("high", "normal" or "low": the order of
        admission when client-side limits make requests wait). With ``stream=True``, returns a
        ``Stream`` of chunks."""
        _no_headers(extra_headers)
        body = _body(params, extra_body)
        path = _path(self._endpoint, extra_query)
        if stream:
            body["stream"] = True
            native = self._client._stream(
                "POST",
                path,
                body,
                routing_key,
                environment,
                metadata,
                timeout,
                deadline=deadline,
                priority=priority,
            )
            return Stream(native)
        if stream is not None:
            body["stream"] = stream
        data, route = self._client._request(
            "POST",
            path,
            body,
            routing_key,
            environment,
            metadata,
            timeout,
            deadline=deadline,
            priority=priority,
        )
        return Response(data, route)


class Responses(Completions):
    """``client.responses``: the Responses API, with the same routing options; with
    ``stream=True`` the ``Stream`` yields its events (``response.created`` …
    ``response.completed``). A follow-up naming ``previous_response_id`` goes to the side that
    holds that response."""

    _endpoint = "/responses"


class Chat:
    """``client.chat``."""

    def __init__(self, client: Client) -> None:
        self.completions = Completions(client)


class Embeddings:
    """``client.embeddings``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        *,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> Response:
        """Embeddings of ``input`` with ``model``; other OpenAI parameters pass through."""
        data, route = self._client._request(
            "POST",
            "/embeddings",
            _body(params, extra_body),
            routing_key,
            environment,
            metadata,
            timeout,
            deadline=deadline,
            priority=priority,
        )
        return Response(data, route)


class Models:
    """``client.models``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, *, environment: str | None = None, timeout: float | None = None) -> Page:
        """The models of the environment chosen for this request; iterate it for the items."""
        data, route = self._client._request("GET", "/models", None, None, environment, None, timeout)
        return Page(data, route)

    def retrieve(
        self, model: str, *, environment: str | None = None, timeout: float | None = None
    ) -> Response:
        """One model."""
        data, route = self._client._request("GET", f"/models/{model}", None, None, environment, None, timeout)
        return Response(data, route)


class Client(_turnout.BaseClient):
    """A routed client for an OpenAI-compatible API with two environments, blue and green.

    >>> client = turnout.Client(
    ...     blue=turnout.Environment("https://a.example/v1", api_key="sk-a", label="v1"),
    ...     green=turnout.Environment("https://b.example/v1", api_key="sk-b", label="v2"),
    ...     canary_weight=10.0,
    ... )
    >>> resp = client.chat.completions.create(model="gpt-4.1", messages=[...])
    >>> resp.route.environment
    'blue'
    """

    if not TYPE_CHECKING:
        # At run time only: type checkers keep reading the native signature.
        def __new__(cls, *args, **kwargs):
            try:
                return super().__new__(cls, *args, **kwargs)
            except TypeError as e:
                raise _hinted(e, cls.__name__, _turnout.BaseClient) from None

    @functools.cached_property
    def chat(self) -> Chat:
        """Chat completions: ``client.chat.completions.create(...)``."""
        return Chat(self)

    @functools.cached_property
    def responses(self) -> Responses:
        """The Responses API: ``client.responses.create(model=..., input=...)``."""
        return Responses(self)

    @functools.cached_property
    def embeddings(self) -> Embeddings:
        """Embeddings: ``client.embeddings.create(model=..., input=...)``."""
        return Embeddings(self)

    @functools.cached_property
    def models(self) -> Models:
        """Models: ``client.models.list()``."""
        return Models(self)

    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[True],
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Stream: ...

    @overload
    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[False] = False,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Response: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: bool = False,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Response | Stream:
        """Any other endpoint (``path`` under the base URL, e.g. ``/responses``), routed like
        the others. With ``stream=True`` the answer's server-sent events are read as chunks."""
        if stream:
            return Stream(
                self._stream(
                    method,
                    path,
                    json,
                    routing_key,
                    environment,
                    metadata,
                    timeout,
                    deadline=deadline,
                    priority=priority,
                )
            )
        data, route = self._request(
            method,
            path,
            json,
            routing_key,
            environment,
            metadata,
            timeout,
            deadline=deadline,
            priority=priority,
        )
        return Response(data, route)

    def status(self) -> dict[str, Any]:
        """The traffic state (active, canary_weight, version, salt) and each environment's
        health, circuit and window statistics."""
        return self._status()

    def switch_to(self, environment: str, force: bool = False) -> dict[str, Any]:
        """Makes ``environment`` active with no canary: an instant, reversible switch.
        Returns the new traffic state. Raises ``RefusedError`` when ``environment`` is
        unavailable (circuit open, or unhealthy) unless ``force``."""
        return self._switch_to(environment, force)

    def set_canary_weight(self, percent: float, force: bool = False) -> dict[str, Any]:
        """Sends ``percent`` (0..100) of traffic to the candidate (the side not active)."""
        return self._set_canary_weight(percent, force)

    def promote(self, force: bool = False) -> dict[str, Any]:
        """Makes the candidate active, weight back to 0."""
        return self._promote(force)

    def rollback(self, reason: str = "manual", force: bool = False) -> dict[str, Any]:
        """Undoes the last release step: weight 0 when a canary runs, else the side active
        before the last switch or promotion; nothing (``already rolled back``) when the last
        change was a rollback."""
        return self._rollback(reason, force)

    def health_check(self, environment: str) -> dict[str, Any]:
        """Probes ``environment`` now: ``{environment, healthy, latency_ms, error}``."""
        return self._health_check(environment)

    def start_rollout(self, plan: _turnout.RolloutPlan | Mapping[str, Any]) -> dict[str, Any]:
        """Starts a progressive rollout of the candidate (a new bucketing salt, the weight of
        the first step); a background task walks the steps and rolls back on a failed gate.
        Returns the rollout's status."""
        return self._start_rollout(plan)

    def pause_rollout(self) -> dict[str, Any]:
        """Pauses the rollout at its step (the weight stays; the rollback guard keeps
        watching)."""
        return self._pause_rollout()

    def resume_rollout(self) -> dict[str, Any]:
        """Resumes a paused rollout."""
        return self._resume_rollout()

    def abort_rollout(self, reason: str = "aborted") -> dict[str, Any]:
        """Aborts the rollout: the candidate's weight goes back to 0."""
        return self._abort_rollout(reason)

    def rollout(self) -> dict[str, Any] | None:
        """The current (or last) rollout's progress; None before the first."""
        return self._rollout()

    def rollout_status(self) -> dict[str, Any] | None:
        """Deprecated: the old name of ``rollout()`` (Node: ``rollout()``)."""
        warnings.warn("rollout_status() is now rollout()", DeprecationWarning, stacklevel=2)
        return self._rollout()

    def tick(self) -> None:
        """Runs the periodic checks now: the rollback guard judges every gate and a running
        rollout is evaluated once, as if its interval had come (background tasks do this on
        their own)."""
        self._tick()

    def checkpoint(self, name: str) -> dict[str, Any]:
        """Saves the traffic state and routing config: ``{id, name, hash, created_at, ...}``."""
        return self._checkpoint(name)

    def checkpoints(self) -> list[dict[str, Any]]:
        """The checkpoints kept (the last 10, automatic ones included), oldest first."""
        return self._checkpoints()

    def restore_checkpoint(self, id: str, force: bool = False) -> dict[str, Any]:
        """Re-applies checkpoint ``id``'s traffic state; returns the new state. Raises
        ``RefusedError`` when it would send traffic to an unavailable side, unless ``force``."""
        return self._restore_checkpoint(id, force)

    def metrics_text(self) -> str:
        """The Prometheus metrics of this client (OpenMetrics text; serve it with
        ``turnout.METRICS_CONTENT_TYPE``)."""
        return self._metrics_text()

    def metrics_address(self) -> str | None:
        """Where the built-in metrics listener serves ``GET /metrics`` (``metrics={"listen":
        "127.0.0.1:9464"}``), the port actually bound; None when it is off."""
        return self._metrics_address()

    def costs(self) -> dict[str, Any]:
        """Token and cost totals since the client was built: ``total``, ``by_environment``,
        ``by_model`` and ``by_tag``."""
        return self._costs()

    def rotate_keys(self, environment: str, keys: list[str]) -> None:
        """Replaces ``environment``'s keys at run time; requests in flight finish with the key
        they were sent with, a key already in the pool keeps its state (``keys_rotated``)."""
        self._rotate_keys(environment, list(keys))

    def shadow_report(self) -> dict[str, Any]:
        """The shadow traffic so far: counts, rates, this hour's spend and the last differing
        pairs (content excerpts, keys redacted)."""
        return self._shadow_report()

    def history(self) -> list[Event]:
        """The events kept in memory (the last 1000), oldest first."""
        return self._history()

    def on_event(self, callback: Callable[[Event], object]) -> _turnout.EventSubscription:
        """Calls ``callback(event)`` for every future event, on the thread where it happens
        (keep it quick; exceptions are logged on the ``turnout`` logger)."""
        return self._on_event(callback)

    def close(self) -> None:
        """Stops background tasks; later requests raise ``ClientClosedError``."""
        self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


# --- async resources -----------------------------------------------------------------------


class AsyncCompletions:
    """``client.chat.completions`` of an ``AsyncClient``."""

    _endpoint = "/chat/completions"

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @overload
    async def create(
        self,
        *,
        stream: Literal[True],
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> AsyncStream: ...

    @overload
    async def create(
        self,
        *,
        stream: Literal[False] | None = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Response: ...

    async def create(
        self,
        *,
        stream: bool | None = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        extra_query: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        **params: Any,
    ) -> Response | AsyncStream:
        """A chat completion (see ``Completions.create``); with ``stream=True``, an
        ``AsyncStream`` to read with ``async for``."""
        _no_headers(extra_headers)
        body = _body(params, extra_body)
        path = _path(self._endpoint, extra_query)
        if stream:
            body["stream"] = True
            native = await self._client._astream(
                "POST",
                path,
                body,
                routing_key,
                environment,
                metadata,
                timeout,
                deadline=deadline,
                priority=priority,
            )
            return AsyncStream(native)
        if stream is not None:
            body["stream"] = stream
        data, route = await self._client._arequest(
            "POST",
            path,
            body,
            routing_key,
            environment,
            metadata,
            timeout,
            deadline=deadline,
            priority=priority,
        )
        return Response(data, route)


class AsyncResponses(AsyncCompletions):
    """``client.responses`` of an ``AsyncClient``."""

    _endpoint = "/responses"


class AsyncChat:
    """``client.chat`` of an ``AsyncClient``."""

    def __init__(self, client: AsyncClient) -> None:
        self.completions = AsyncCompletions(client)


class AsyncEmbeddings:
    """``client.embeddings`` of an ``AsyncClient``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def create(
        self,
        *,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
        extra_body: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> Response:
        """Embeddings of ``input`` with ``model``."""
        data, route = await self._client._arequest(
            "POST",
            "/embeddings",
            _body(params, extra_body),
            routing_key,
            environment,
            metadata,
            timeout,
            deadline=deadline,
            priority=priority,
        )
        return Response(data, route)


class AsyncModels:
    """``client.models`` of an ``AsyncClient``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, environment: str | None = None, timeout: float | None = None) -> Page:
        """The models list."""
        data, route = await self._client._arequest("GET", "/models", None, None, environment, None, timeout)
        return Page(data, route)

    async def retrieve(
        self, model: str, *, environment: str | None = None, timeout: float | None = None
    ) -> Response:
        """One model."""
        data, route = await self._client._arequest(
            "GET", f"/models/{model}", None, None, environment, None, timeout
        )
        return Response(data, route)


class AsyncClient(_turnout.BaseClient):
    """The asyncio client: the arguments of ``Client``, awaitable methods.

    >>> async with turnout.AsyncClient(blue=..., green=...) as client:
    ...     resp = await client.chat.completions.create(model="gpt-4.1", messages=[...])
    """

    if not TYPE_CHECKING:
        # At run time only: type checkers keep reading the native signature.
        def __new__(cls, *args, **kwargs):
            try:
                return super().__new__(cls, *args, **kwargs)
            except TypeError as e:
                raise _hinted(e, cls.__name__, _turnout.BaseClient) from None

    @functools.cached_property
    def chat(self) -> AsyncChat:
        """Chat completions: ``await client.chat.completions.create(...)``."""
        return AsyncChat(self)

    @functools.cached_property
    def responses(self) -> AsyncResponses:
        """The Responses API: ``await client.responses.create(model=..., input=...)``."""
        return AsyncResponses(self)

    @functools.cached_property
    def embeddings(self) -> AsyncEmbeddings:
        """Embeddings: ``await client.embeddings.create(model=..., input=...)``."""
        return AsyncEmbeddings(self)

    @functools.cached_property
    def models(self) -> AsyncModels:
        """Models: ``await client.models.list()``."""
        return AsyncModels(self)

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[True],
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> AsyncStream: ...

    @overload
    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: Literal[False] = False,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Response: ...

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        stream: bool = False,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Priority | None = None,
    ) -> Response | AsyncStream:
        """Any other endpoint, routed like the others (see ``Client.request``)."""
        if stream:
            native = await self._astream(
                method,
                path,
                json,
                routing_key,
                environment,
                metadata,
                timeout,
                deadline=deadline,
                priority=priority,
            )
            return AsyncStream(native)
        data, route = await self._arequest(
            method,
            path,
            json,
            routing_key,
            environment,
            metadata,
            timeout,
            deadline=deadline,
            priority=priority,
        )
        return Response(data, route)

    async def status(self) -> dict[str, Any]:
        """The traffic state and each environment's health, circuit and window statistics."""
        return self._status()

    async def switch_to(self, environment: str, force: bool = False) -> dict[str, Any]:
        """Makes ``environment`` active with no canary."""
        return self._switch_to(environment, force)

    async def set_canary_weight(self, percent: float, force: bool = False) -> dict[str, Any]:
        """Sends ``percent`` (0..100) of traffic to the candidate."""
        return self._set_canary_weight(percent, force)

    async def promote(self, force: bool = False) -> dict[str, Any]:
        """Makes the candidate active, weight back to 0."""
        return self._promote(force)

    async def rollback(self, reason: str = "manual", force: bool = False) -> dict[str, Any]:
        """Undoes the last release step (nothing when the last change was a rollback)."""
        return self._rollback(reason, force)

    async def health_check(self, environment: str) -> dict[str, Any]:
        """Probes ``environment`` now: ``{environment, healthy, latency_ms, error}``."""
        result: dict[str, Any] = await self._ahealth_check(environment)
        return result

    async def start_rollout(self, plan: _turnout.RolloutPlan | Mapping[str, Any]) -> dict[str, Any]:
        """Starts a progressive rollout of the candidate (a new bucketing salt, the weight of
        the first step); a background task walks the steps and rolls back on a failed gate.
        Returns the rollout's status."""
        return self._start_rollout(plan)

    async def pause_rollout(self) -> dict[str, Any]:
        """Pauses the rollout at its step (the weight stays; the rollback guard keeps
        watching)."""
        return self._pause_rollout()

    async def resume_rollout(self) -> dict[str, Any]:
        """Resumes a paused rollout."""
        return self._resume_rollout()

    async def abort_rollout(self, reason: str = "aborted") -> dict[str, Any]:
        """Aborts the rollout: the candidate's weight goes back to 0."""
        return self._abort_rollout(reason)

    async def rollout(self) -> dict[str, Any] | None:
        """The current (or last) rollout's progress; None before the first."""
        return self._rollout()

    async def rollout_status(self) -> dict[str, Any] | None:
        """Deprecated: the old name of ``rollout()``."""
        warnings.warn("rollout_status() is now rollout()", DeprecationWarning, stacklevel=2)
        return self._rollout()

    async def tick(self) -> None:
        """Runs the periodic checks now (see ``Client.tick``)."""
        self._tick()

    async def checkpoint(self, name: str) -> dict[str, Any]:
        """Saves the traffic state and routing config: ``{id, name, hash, created_at, ...}``."""
        return self._checkpoint(name)

    async def checkpoints(self) -> list[dict[str, Any]]:
        """The checkpoints kept (the last 10, automatic ones included), oldest first."""
        return self._checkpoints()

    async def restore_checkpoint(self, id: str, force: bool = False) -> dict[str, Any]:
        """Re-applies checkpoint ``id``'s traffic state; returns the new state."""
        return self._restore_checkpoint(id, force)

    async def metrics_text(self) -> str:
        """The Prometheus metrics of this client (OpenMetrics text; serve it with
        ``turnout.METRICS_CONTENT_TYPE``)."""
        return self._metrics_text()

    async def metrics_address(self) -> str | None:
        """Where the built-in metrics listener serves ``GET /metrics`` (``metrics={"listen":
        "127.0.0.1:9464"}``), the port actually bound; None when it is off."""
        return self._metrics_address()

    async def costs(self) -> dict[str, Any]:
        """Token and cost totals since the client was built: ``total``, ``by_environment``,
        ``by_model`` and ``by_tag``."""
        return self._costs()

    async def rotate_keys(self, environment: str, keys: list[str]) -> None:
        """Replaces ``environment``'s keys at run time; requests in flight keep theirs."""
        self._rotate_keys(environment, list(keys))

    async def shadow_report(self) -> dict[str, Any]:
        """The shadow traffic so far (see ``Client.shadow_report``)."""
        return self._shadow_report()

    async def history(self) -> list[Event]:
        """The events kept in memory, oldest first."""
        return self._history()

    def on_event(self, callback: Callable[[Event], object]) -> _turnout.EventSubscription:
        """Calls ``callback(event)`` for every future event, on the thread where it happens
        (not the event loop's: use ``loop.call_soon_threadsafe`` to hand it over)."""
        return self._on_event(callback)

    async def close(self) -> None:
        """Stops background tasks; later requests raise ``ClientClosedError``."""
        self._close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
