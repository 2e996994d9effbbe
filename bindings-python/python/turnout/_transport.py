"""httpx transports that put turnout under the official ``openai`` client.

``openai.OpenAI(api_key="unused", base_url="http://turnout/v1",
http_client=httpx.Client(transport=turnout.HttpxTransport(client)))`` sends every request
through ``client``: the path after ``/v1`` goes to the environment turnout picks, with that
environment's key. Everything passes through (SEMANTICS.md, *Under the official SDKs*): any
method, body and header but the SDK's credentials, and the side's answer as it was sent. An
answer turnout gave up on says ``x-should-retry: false``; a failure without an answer comes
back as a synthetic 502/503/504 (a request turnout cannot route, as a 400), so the SDK raises
its own exception at once instead of retrying on top of turnout. The SDK's timeout (httpx's read
timeout) bounds each of turnout's attempts, as it would bound the SDK's own. Works with ``httpx`` (openai
2.x) and ``httpx2`` (openai 3.x): the response is built with the package of the request it
answers.
"""

from __future__ import annotations

import functools
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from . import _turnout

if TYPE_CHECKING:
    import httpx

    from ._turnout import BaseClient

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


def _path(request: Any, base_path: str) -> str:
    """The path to route: what follows the official client's base path, query included."""
    raw = str(request.url.raw_path.decode("ascii"))
    path = raw[len(base_path) :] if raw.startswith(base_path) else raw
    return path if path.startswith("/") else "/" + path


def _timeout(request: Any) -> float | None:
    """The read timeout the official client set on ``request`` (``OpenAI(timeout=...)``,
    ``with_options(timeout=...)``), which bounds each of turnout's attempts."""
    read = (request.extensions.get("timeout") or {}).get("read")
    return None if read is None else float(read)


def _response(mod: ModuleType, request: Any, answer: tuple[Any, ...], sync: bool) -> Any:
    """The httpx response of a pass-through answer: the side's status, headers and bytes (or
    its event stream as it arrives), or the synthetic answer standing for a failure."""
    status, headers, body = answer
    if isinstance(body, _turnout.Stream):
        stream = _bodies(mod)[0 if sync else 1](body, request)
        return mod.Response(status, headers=headers, stream=stream, request=request)
    return mod.Response(status, headers=headers, content=body, request=request)


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
        path = _path(request, self._base_path)
        body = request.read() or None
        answer = self._client._passthrough(request.method, path, request.headers.raw, body, _timeout(request))
        return _response(_module(request), request, answer, sync=True)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"HttpxTransport({self._client!r})"


class AsyncHttpxTransport(_base_httpx.AsyncBaseTransport):
    """The asyncio form of ``HttpxTransport``, for ``httpx.AsyncClient`` and
    ``openai.AsyncOpenAI``; takes a ``turnout.AsyncClient`` (or a ``Client``)."""

    def __init__(self, client: BaseClient, *, base_path: str = "/v1") -> None:
        self._client = client
        self._base_path = base_path.rstrip("/")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = _path(request, self._base_path)
        body = await request.aread() or None
        answer = await self._client._apassthrough(
            request.method, path, request.headers.raw, body, _timeout(request)
        )
        return _response(_module(request), request, answer, sync=False)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"AsyncHttpxTransport({self._client!r})"
