"""turnout: in-process blue/green, canary and fallback routing for OpenAI-compatible APIs.

>>> import turnout
>>> client = turnout.Client(
...     blue=turnout.Environment("https://a.example/v1", api_key="sk-a", label="v1"),
...     green=turnout.Environment("https://b.example/v1", api_key="sk-b", label="v2"),
...     canary_weight=10.0,
... )
>>> resp = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
>>> resp.choices[0].message.content, resp.route.environment
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._client import AsyncClient, Client
from ._turnout import (
    METRICS_CONTENT_TYPE,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    CircuitBreaker,
    ClientClosedError,
    ClientRateLimitError,
    ConfigError,
    Environment,
    EventSubscription,
    HealthCheck,
    InternalServerError,
    NoHealthyEnvironmentError,
    NoRolloutError,
    NotFoundError,
    PermissionDeniedError,
    RateLimit,
    RateLimitError,
    RefusedError,
    RetryPolicy,
    RollbackPolicy,
    RolloutPlan,
    Route,
    Rule,
    Step,
    StoreError,
    StreamInterruptedError,
    TurnoutError,
    UnknownCheckpointError,
    UnprocessableEntityError,
    __version__,
    bucket,
)
from ._types import AsyncStream, Object, Page, Response, Stream

if TYPE_CHECKING:
    from ._transport import AsyncHttpxTransport, HttpxTransport

__all__ = [
    "Client",
    "AsyncClient",
    "Environment",
    "Rule",
    "RetryPolicy",
    "HealthCheck",
    "CircuitBreaker",
    "RollbackPolicy",
    "RateLimit",
    "RolloutPlan",
    "Step",
    "METRICS_CONTENT_TYPE",
    "Route",
    "Response",
    "Page",
    "Object",
    "Stream",
    "AsyncStream",
    "EventSubscription",
    "HttpxTransport",
    "AsyncHttpxTransport",
    "bucket",
    "TurnoutError",
    "ConfigError",
    "NoHealthyEnvironmentError",
    "ClientRateLimitError",
    "ClientClosedError",
    "StoreError",
    "NoRolloutError",
    "UnknownCheckpointError",
    "RefusedError",
    "APIError",
    "APIConnectionError",
    "APITimeoutError",
    "StreamInterruptedError",
    "APIStatusError",
    "BadRequestError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "UnprocessableEntityError",
    "RateLimitError",
    "InternalServerError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    # The transports import httpx, which turnout itself does not need.
    if name in ("HttpxTransport", "AsyncHttpxTransport"):
        from . import _transport

        return getattr(_transport, name)
    raise AttributeError(f"module 'turnout' has no attribute {name!r}")
