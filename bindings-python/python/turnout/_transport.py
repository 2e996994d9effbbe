"""httpx transports that put turnout under the official ``openai`` client.

``openai.OpenAI(api_key="unused", base_url="http://turnout/v1",
http_client=httpx.Client(transport=turnout.HttpxTransport(client)))`` sends every request
through ``client``: the path after ``/v1`` goes to the environment turnout picks, with that
environment's key. Works with ``httpx`` (openai 2.x) and ``httpx2`` (openai 3.x): the response
is built with the package of the request it answers.
"""

from __future__ import annotations

import functools
import json
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import _turnout

if TYPE_CHECKING:
    import httpx

    from ._turnout import BaseClient, Route

try:  # the base classes are only for isinstance checks and typing; both packages duck-type
    import httpx as _base_httpx
except ImportError:  # pragma: no cover - httpx2-only environments
    try:
        import httpx2 as _base_httpx  # type: ignore[import-not-found, no-redef]
    except ImportError:
        raise ImportError(
            "turnout's transports need httpx or httpx2: pip install httpx (or turnout[httpx])"
        ) from None

__all__ = ["HttpxTransport", "AsyncHttpxTransport"]


def _module(request: Any) -> ModuleType:
    """``httpx`` or ``httpx2``: whichever built this request."""
    return sys.modules[type(request).__module__.partition(".")[0]]


def _header_safe(value: str) -> str:
    """Non-ASCII percent-encoded, as header values must be (the Node transport does the same)."""
    return value if value.isascii() and value.isprintable() else quote(value, safe="")


def _route_headers(route: Route) -> list[tuple[str, str]]:
    """The ``x-turnout-*`` answer headers, the same as the Node transport sends."""
    headers = [
        ("x-turnout-environment", route.environment),
        ("x-turnout-attempts", str(route.attempts)),
    ]
    if route.model:
        headers.append(("x-turnout-model", _header_safe(route.model)))
    if route.label:
        headers.append(("x-turnout-label", _header_safe(route.label)))
    return headers


def _options(request: Any, base_path: str) -> tuple[str, dict[str, Any]]:
    """The path to route and the routing options carried by ``x-turnout-*`` headers."""
    raw = request.url.raw_path.decode("ascii")
    path = raw[len(base_path) :] if raw.startswith(base_path) else raw
    if not path.startswith("/"):
        path = "/" + path
    headers = request.headers
    metadata = headers.get("x-turnout-metadata")
    return path, {
        "routing_key": headers.get("x-turnout-routing-key"),
        "environment": headers.get("x-turnout-environment"),
        "metadata": json.loads(metadata) if metadata else None,
    }


def _failure(mod: ModuleType, request: Any, err: _turnout.TurnoutError) -> Any:
    """An upstream error status comes back as the same status and body, so that the official
    client raises its own exception; ``x-should-retry: false`` because turnout has already
    retried. Failures without a status become the httpx exception the client expects."""
    if isinstance(err, _turnout.APIStatusError):
        headers = [("content-type", "application/json"), ("x-should-retry", "false")]
        if err.environment:
            headers.append(("x-turnout-environment", err.environment))
        return mod.Response(err.status_code, headers=headers, content=err._raw_body.encode(), request=request)
    if isinstance(err, _turnout.APITimeoutError):
        raise mod.ReadTimeout(str(err), request=request) from err
    if isinstance(err, _turnout.ClientRateLimitError):
        raise mod.PoolTimeout(str(err), request=request) from err
    if isinstance(err, (_turnout.APIConnectionError, _turnout.NoHealthyEnvironmentError)):
        raise mod.ConnectError(str(err), request=request) from err
    if isinstance(err, _turnout.APIError):
        raise mod.RemoteProtocolError(str(err), request=request) from err
    raise err


@functools.cache
def _bodies(mod: ModuleType) -> tuple[type, type]:
    """Streaming body classes of ``mod`` (httpx checks the base class)."""

    class SyncBody(mod.SyncByteStream):  # type: ignore[name-defined, misc]
        def __init__(self, native: _turnout.Stream, request: Any) -> None:
            self._native = native
            self._request = request

        def __iter__(self) -> Any:
            try:
                yield from self._native
            except _turnout.TurnoutError as err:
                # A cut after data went out: what a dropped connection looks like to httpx.
                raise mod.RemoteProtocolError(str(err), request=self._request) from err

        def close(self) -> None:
            self._native.close()

    class AsyncBody(mod.AsyncByteStream):  # type: ignore[name-defined, misc]
        def __init__(self, native: _turnout.Stream, request: Any) -> None:
            self._native = native
            self._request = request

        async def __aiter__(self) -> Any:
            while True:
                try:
                    line = await self._native._anext()
                except _turnout.TurnoutError as err:
                    raise mod.RemoteProtocolError(str(err), request=self._request) from err
                if line is None:
                    return
                yield line

        async def aclose(self) -> None:
            self._native.close()

    return SyncBody, AsyncBody


def _answer(mod: ModuleType, request: Any, result: Any, sync: bool) -> Any:
    if isinstance(result, _turnout.Stream):
        body = _bodies(mod)[0 if sync else 1](result, request)
        headers = [("content-type", "text/event-stream"), *_route_headers(result.route)]
        return mod.Response(200, headers=headers, stream=body, request=request)
    data, route = result
    headers = [("content-type", "application/json"), *_route_headers(route)]
    return mod.Response(200, headers=headers, content=data, request=request)


class HttpxTransport(_base_httpx.BaseTransport):
    """A sync httpx transport routed by a ``turnout.Client``.

    ``base_path`` is the path of the official client's base URL (``/v1`` for
    ``base_url="http://turnout/v1"``); what follows it is sent under the chosen environment's
    base URL. Routing options can ride on headers: ``x-turnout-routing-key``,
    ``x-turnout-environment``, ``x-turnout-metadata`` (a JSON object), e.g. through
    ``extra_headers``.
    """

    def __init__(self, client: BaseClient, *, base_path: str = "/v1") -> None:
        self._client = client
        self._base_path = base_path.rstrip("/")

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        mod = _module(request)
        path, options = _options(request, self._base_path)
        try:
            result = self._client._transport(request.method, path, request.read() or None, **options)
        except _turnout.TurnoutError as err:
            return _failure(mod, request, err)  # type: ignore[no-any-return]
        return _answer(mod, request, result, sync=True)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"HttpxTransport({self._client!r})"


class AsyncHttpxTransport(_base_httpx.AsyncBaseTransport):
    """The asyncio form of ``HttpxTransport``, for ``httpx.AsyncClient`` and
    ``openai.AsyncOpenAI``; takes a ``turnout.AsyncClient`` (or a ``Client``)."""

    def __init__(self, client: BaseClient, *, base_path: str = "/v1") -> None:
        self._client = client
        self._base_path = base_path.rstrip("/")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        mod = _module(request)
        path, options = _options(request, self._base_path)
        content = await request.aread()
        try:
            result = await self._client._atransport(request.method, path, content or None, **options)
        except _turnout.TurnoutError as err:
            return _failure(mod, request, err)  # type: ignore[no-any-return]
        return _answer(mod, request, result, sync=False)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"AsyncHttpxTransport({self._client!r})"
