"""Answers with attribute access, like the official client's objects, and stream wrappers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

    from ._turnout import Route
    from ._turnout import Stream as _NativeStream

__all__ = ["Object", "Response", "Page", "Stream", "AsyncStream"]


def _wrap(value: Any) -> Any:
    if isinstance(value, dict):
        return Object(value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    return value


class Object:
    """A JSON object read by attribute: ``resp.choices[0].message.content``.

    A field the upstream did not send reads as ``None``, like the optional fields of the
    official client's types. ``to_dict()`` gives the underlying dict.
    """

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            value = self._data[name]
        except KeyError:
            if name.startswith("_"):
                raise AttributeError(name) from None
            return None
        return _wrap(value)

    def __getitem__(self, key: str) -> Any:
        return _wrap(self._data[key])

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        """The field ``key``, or ``default`` when absent."""
        return _wrap(self._data[key]) if key in self._data else default

    def to_dict(self) -> dict[str, Any]:
        """The object as a plain dict (the one received, not a copy)."""
        return self._data

    def model_dump(self) -> dict[str, Any]:
        """Same as ``to_dict()``, for code written against pydantic models."""
        return self._data

    def to_json(self, *, indent: int | None = 2) -> str:
        """The object as JSON text."""
        return json.dumps(self._data, indent=indent)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Object):
            return self._data == other._data
        if isinstance(other, dict):
            return self._data == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state


class Response(Object):
    """An answer plus ``route``: how it was served (environment, model, attempts, latency, cost)."""

    __slots__ = ("route",)

    def __init__(self, data: dict[str, Any], route: Route) -> None:
        super().__init__(data)
        self.route = route

    def __repr__(self) -> str:
        return f"Response({self._data!r}, route={self.route!r})"

    def __getstate__(self) -> dict[str, Any]:
        return self._data

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._data = state


class Page(Response):
    """A list answer (``models.list()``): iterating it yields the items of ``data``."""

    __slots__ = ()

    def __iter__(self) -> Iterator[Object]:
        return iter(_wrap(self._data.get("data") or []))

    def __len__(self) -> int:
        return len(self._data.get("data") or [])

    def __repr__(self) -> str:
        # As openai-python prints its pages: SyncPage[Model](data=[Model(id='gpt-4.1', ...)], object='list')
        items = self._data.get("data") or []
        kind = _type_name(items[0]) if items else "Object"
        shown = ", ".join(_fields_repr(_type_name(i), i) for i in items)
        return f"SyncPage[{kind}](data=[{shown}], object={self._data.get('object')!r})"


def _type_name(item: Any) -> str:
    """``Model`` for ``{"object": "model"}``, ``ChatCompletion`` for ``chat.completion``."""
    kind = item.get("object") if isinstance(item, dict) else None
    if not isinstance(kind, str) or not kind:
        return "Object"
    return "".join(part.capitalize() for part in kind.replace(".", "_").split("_"))


def _fields_repr(name: str, item: Any) -> str:
    if not isinstance(item, dict):
        return repr(item)
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in item.items())})"


class Stream:
    """Chunks of a streamed answer. Leaving the loop early (or ``close()``) cancels the
    upstream request; a cut after data arrived raises ``StreamInterruptedError``."""

    __slots__ = ("_native", "route")

    def __init__(self, native: _NativeStream) -> None:
        self._native = native
        self.route: Route = native.route

    def __iter__(self) -> Iterator[Object]:
        return self

    def __next__(self) -> Object:
        return Object(self._native.__next__())

    def close(self) -> None:
        """Stops reading and cancels the upstream request."""
        self._native.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Stream(route={self.route!r})"


class AsyncStream:
    """The asyncio form of ``Stream``: ``async for chunk in stream``."""

    __slots__ = ("_native", "route")

    def __init__(self, native: _NativeStream) -> None:
        self._native = native
        self.route: Route = native.route

    def __aiter__(self) -> AsyncIterator[Object]:
        return self

    async def __anext__(self) -> Object:
        item = await self._native._anext()
        if item is None:
            raise StopAsyncIteration
        return Object(item)

    async def close(self) -> None:
        """Stops reading and cancels the upstream request."""
        self._native.close()

    aclose = close

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._native.close()

    def __repr__(self) -> str:
        return f"AsyncStream(route={self.route!r})"
