"""Types of the native module ``turnout._turnout`` (checked by mypy.stubtest in the tests)."""

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Final, Literal, final

from typing_extensions import Self, disjoint_base

__all__ = [
    "__version__",
    "_suggest",
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
    "BaseClient",
    "Environment",
    "Rule",
    "RetryPolicy",
    "HealthCheck",
    "CircuitBreaker",
    "RollbackPolicy",
    "RateLimit",
    "Step",
    "RolloutPlan",
    "Route",
    "Stream",
    "EventSubscription",
    "LoopBridge",
    "bucket",
    "METRICS_CONTENT_TYPE",
    "_refresh_logging",
    "_test_panic",
]

__version__: Final[str]
METRICS_CONTENT_TYPE: Final[str]

_Side = Literal["blue", "green"]
_Event = dict[str, Any]
_ConfigSource = str | os.PathLike[str] | Mapping[str, Any]

def bucket(salt: str, key: str) -> int:
    """The sticky bucket (0..10000) of ``key`` under ``salt``."""

def _refresh_logging() -> None:
    """Reads the ``turnout`` logger's level again (it is cached)."""

def _test_panic(at: str) -> Any:
    """Test-only: panics inside turnout at ``at`` ("block_on", "detached", "async", "result")."""

def _suggest(unknown: str, candidates: list[str]) -> str | None:
    """The name in ``candidates`` that ``unknown`` most likely meant, or None."""

# --- configuration ------------------------------------------------------------------------

@final
class Environment:
    """One upstream: base URL, its own key and how it is sent (``auth``), a label, extra
    headers, a query on every request, model names, a timeout (seconds)."""

    def __new__(
        cls,
        base_url: str,
        api_key: str | list[str] | None = None,
        *,
        label: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        auth: Literal["bearer", "api-key", "x-api-key"] | None = None,
        query: Mapping[str, str] | None = None,
        models: Mapping[str, str] | None = None,
    ) -> Self: ...
    @property
    def auth(self) -> str: ...
    @property
    def query(self) -> dict[str, str]: ...
    @property
    def models(self) -> dict[str, str]: ...
    @property
    def base_url(self) -> str: ...
    @property
    def label(self) -> str | None: ...
    @property
    def headers(self) -> dict[str, str]: ...
    @property
    def timeout(self) -> float | None: ...
    @property
    def key_fingerprint(self) -> str: ...

@final
class Rule:
    """Sends the requests whose metadata has every ``match`` pair to ``environment``."""

    def __new__(cls, match: Mapping[str, str], environment: _Side) -> Self: ...
    @property
    def match(self) -> dict[str, str]: ...
    @property
    def environment(self) -> _Side: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class RetryPolicy:
    """Retries: attempts (failovers included), backoff (seconds), Retry-After cap, budget."""

    def __new__(
        cls,
        *,
        max_attempts: int = ...,
        initial_backoff: float = ...,
        max_backoff: float = ...,
        multiplier: float = ...,
        jitter: Literal["full", "equal", "none"] = ...,
        max_retry_after: float = ...,
        budget_ratio: float = ...,
        budget_min_per_sec: int = ...,
    ) -> Self: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def initial_backoff(self) -> float: ...
    @property
    def max_backoff(self) -> float: ...
    @property
    def multiplier(self) -> float: ...
    @property
    def jitter(self) -> Literal["full", "equal", "none"]: ...
    @property
    def max_retry_after(self) -> float: ...
    @property
    def budget_ratio(self) -> float: ...
    @property
    def budget_min_per_sec(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class HealthCheck:
    """Active health probes of each side (seconds)."""

    def __new__(
        cls,
        *,
        enabled: bool = ...,
        interval: float = ...,
        timeout: float = ...,
        path: str = ...,
        unhealthy_threshold: int = ...,
        healthy_threshold: int = ...,
    ) -> Self: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def interval(self) -> float: ...
    @property
    def timeout(self) -> float: ...
    @property
    def path(self) -> str: ...
    @property
    def unhealthy_threshold(self) -> int: ...
    @property
    def healthy_threshold(self) -> int: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class CircuitBreaker:
    """The circuit breaker of each side."""

    def __new__(
        cls,
        *,
        failure_threshold: int = ...,
        failure_rate: float = ...,
        window_size: int = ...,
        min_calls: int = ...,
        cooldown: float = ...,
    ) -> Self: ...
    @property
    def failure_threshold(self) -> int: ...
    @property
    def failure_rate(self) -> float: ...
    @property
    def window_size(self) -> int: ...
    @property
    def min_calls(self) -> int: ...
    @property
    def cooldown(self) -> float: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class RollbackPolicy:
    """The gates judging the candidate; ``None`` turns a gate off."""

    def __new__(
        cls,
        *,
        max_error_rate: float | None = ...,
        min_success_rate: float | None = ...,
        max_p99_latency_ms: float | None = ...,
        max_p99_ttft_ms: float | None = ...,
        max_error_rate_delta: float | None = ...,
        max_rate_limited_rate: float | None = ...,
        window: float = ...,
        min_requests: int = ...,
        action: Literal["rollback", "alert"] = ...,
        max_cost_per_request_usd: float | None = ...,
        max_cost_ratio: float | None = ...,
        max_output_tokens_ratio: float | None = ...,
        min_cached_token_share: float | None = ...,
        shadow_max_tool_mismatch_rate: float | None = ...,
        shadow_max_invalid_json_rate: float | None = ...,
        shadow_max_cost_ratio: float | None = ...,
    ) -> Self: ...
    @property
    def max_error_rate(self) -> float | None: ...
    @property
    def min_success_rate(self) -> float | None: ...
    @property
    def max_p99_latency_ms(self) -> float | None: ...
    @property
    def max_p99_ttft_ms(self) -> float | None: ...
    @property
    def max_error_rate_delta(self) -> float | None: ...
    @property
    def max_rate_limited_rate(self) -> float | None: ...
    @property
    def window(self) -> float: ...
    @property
    def min_requests(self) -> int: ...
    @property
    def action(self) -> Literal["rollback", "alert"]: ...
    @property
    def max_cost_per_request_usd(self) -> float | None: ...
    @property
    def max_cost_ratio(self) -> float | None: ...
    @property
    def max_output_tokens_ratio(self) -> float | None: ...
    @property
    def min_cached_token_share(self) -> float | None: ...
    @property
    def shadow_max_tool_mismatch_rate(self) -> float | None: ...
    @property
    def shadow_max_invalid_json_rate(self) -> float | None: ...
    @property
    def shadow_max_cost_ratio(self) -> float | None: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class RateLimit:
    """Client-side limits."""

    def __new__(
        cls,
        *,
        requests_per_minute: int | None = ...,
        tokens_per_minute: int | None = ...,
        max_concurrency: int | None = ...,
        priority_aging: float | None = ...,
    ) -> Self: ...
    @property
    def requests_per_minute(self) -> int | None: ...
    @property
    def tokens_per_minute(self) -> int | None: ...
    @property
    def max_concurrency(self) -> int | None: ...
    @property
    def priority_aging(self) -> float | None: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Step:
    """One rollout step: weight (percent), hold (seconds), min_requests."""

    def __new__(
        cls, weight: float, hold: float = 0.0, min_requests: int = 0, shadow: bool = False
    ) -> Self: ...
    @property
    def weight(self) -> float: ...
    @property
    def hold(self) -> float: ...
    @property
    def min_requests(self) -> int: ...
    @property
    def shadow(self) -> bool: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class RolloutPlan:
    """A progressive rollout: steps of rising weight, judged by ``gates`` every ``interval``."""

    def __new__(
        cls,
        steps: Iterable[Step | Mapping[str, Any]],
        *,
        gates: RollbackPolicy | Mapping[str, Any] | None = None,
        interval: float | None = None,
        failure_limit: int | None = None,
        step_deadline: float | None = None,
    ) -> Self: ...
    @property
    def steps(self) -> list[Step]: ...
    @property
    def gates(self) -> RollbackPolicy: ...
    @property
    def interval(self) -> float: ...
    @property
    def failure_limit(self) -> int: ...
    @property
    def step_deadline(self) -> float | None: ...
    def to_dict(self) -> dict[str, Any]: ...

# --- answers ------------------------------------------------------------------------------

@final
class Route:
    """How one request was served."""

    @property
    def environment(self) -> _Side: ...
    @property
    def label(self) -> str | None: ...
    @property
    def model(self) -> str | None: ...
    @property
    def fallback_from(self) -> str | None: ...
    @property
    def upstream_model(self) -> str | None: ...
    @property
    def reason(self) -> Literal["pinned", "rule", "sticky", "random", "affinity"]: ...
    @property
    def attempts(self) -> int: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def cost_usd(self) -> float | None: ...
    @property
    def cached(self) -> bool: ...
    def to_dict(self) -> dict[str, Any]: ...

@final
class Stream:
    """A native stream of chunks (dicts) or server-sent-event lines (bytes)."""

    @property
    def route(self) -> Route: ...
    def __iter__(self) -> Self: ...
    def __next__(self) -> Any: ...
    def _anext(self) -> Awaitable[Any]: ...
    def close(self) -> None: ...

@final
class EventSubscription:
    """A registration made by ``on_event``."""

    @property
    def callback(self) -> Callable[[_Event], object]: ...
    def unsubscribe(self) -> bool: ...

@final
class LoopBridge:
    """Completes one event loop's futures (the loop calls ``_drain`` when woken)."""

    def _drain(self) -> None: ...

# --- the client ---------------------------------------------------------------------------

_Answer = tuple[dict[str, Any], Route]
_Passthrough = tuple[int, list[tuple[bytes, bytes]], "bytes | Stream"]

@disjoint_base
class BaseClient:
    """The native client behind ``turnout.Client`` and ``turnout.AsyncClient``."""

    def __new__(
        cls,
        blue: Environment | str | Mapping[str, Any] | None = None,
        green: Environment | str | Mapping[str, Any] | None = None,
        *,
        active: _Side | None = None,
        canary_weight: float | None = None,
        sticky: bool | None = None,
        rules: Iterable[Rule | Mapping[str, Any]] | None = None,
        retry: RetryPolicy | Mapping[str, Any] | None = None,
        model_fallbacks: Mapping[str, list[str]] | None = None,
        health_check: HealthCheck | Mapping[str, Any] | None = None,
        circuit_breaker: CircuitBreaker | Mapping[str, Any] | None = None,
        rollback: RollbackPolicy | Mapping[str, Any] | None = None,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        deadline: float | None = None,
        stream_first_event_timeout: float | None = None,
        bounds: Mapping[str, int] | None = None,
        stats_window: float | None = None,
        rate_limit: RateLimit | Mapping[str, Any] | None = None,
        pricing: Mapping[str, Mapping[str, float]] | None = None,
        state: Mapping[str, Any] | None = None,
        audit_log: str | os.PathLike[str] | None = None,
        webhook: str | None = None,
        cost_tag: str | None = None,
        metrics: Mapping[str, Any] | None = None,
        cache: Mapping[str, Any] | None = None,
        hedge: Mapping[str, Any] | None = None,
        shadow: Mapping[str, Any] | None = None,
        balance: Literal["latency", "cost"] | None = None,
        _config: _ConfigSource | None = None,
    ) -> Self: ...
    @classmethod
    def from_config(cls, source: _ConfigSource) -> Self:
        """A client from a YAML/TOML/JSON file or a dict; ``${VAR}`` expands."""
    @property
    def is_closed(self) -> bool: ...
    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Literal["high", "normal", "low"] | None = None,
    ) -> _Answer: ...
    def _stream(
        self,
        method: str,
        path: str,
        body: Any = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Literal["high", "normal", "low"] | None = None,
    ) -> Stream: ...
    def _arequest(
        self,
        method: str,
        path: str,
        body: Any = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Literal["high", "normal", "low"] | None = None,
    ) -> Awaitable[_Answer]: ...
    def _astream(
        self,
        method: str,
        path: str,
        body: Any = None,
        routing_key: str | int | None = None,
        environment: str | None = None,
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        priority: Literal["high", "normal", "low"] | None = None,
    ) -> Awaitable[Stream]: ...
    def _passthrough(
        self,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> _Passthrough: ...
    def _apassthrough(
        self,
        method: str,
        path: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> Awaitable[_Passthrough]: ...
    def _status(self) -> dict[str, Any]: ...
    def _switch_to(self, environment: str, force: bool = False) -> dict[str, Any]: ...
    def _set_canary_weight(self, percent: float, force: bool = False) -> dict[str, Any]: ...
    def _promote(self, force: bool = False) -> dict[str, Any]: ...
    def _rollback(self, reason: str, force: bool = False) -> dict[str, Any]: ...
    def _health_check(self, environment: str) -> dict[str, Any]: ...
    def _ahealth_check(self, environment: str) -> Awaitable[dict[str, Any]]: ...
    def _history(self) -> list[_Event]: ...
    def _on_event(self, callback: Callable[[_Event], object]) -> EventSubscription: ...
    def _start_rollout(self, plan: RolloutPlan | Mapping[str, Any]) -> dict[str, Any]: ...
    def _pause_rollout(self) -> dict[str, Any]: ...
    def _resume_rollout(self) -> dict[str, Any]: ...
    def _abort_rollout(self, reason: str) -> dict[str, Any]: ...
    def _rollout(self) -> dict[str, Any] | None: ...
    def _tick(self) -> None: ...
    def _checkpoint(self, name: str) -> dict[str, Any]: ...
    def _checkpoints(self) -> list[dict[str, Any]]: ...
    def _restore_checkpoint(self, id: str, force: bool = False) -> dict[str, Any]: ...
    def _metrics_text(self) -> str: ...
    def _metrics_address(self) -> str | None: ...
    def _costs(self) -> dict[str, Any]: ...
    def _rotate_keys(self, environment: str, keys: list[str]) -> None: ...
    def _shadow_report(self) -> dict[str, Any]: ...
    def _close(self) -> None: ...

# --- exceptions ---------------------------------------------------------------------------

class TurnoutError(Exception):
    """Base of every turnout error."""

    message: str | None
    kind: str | None
    environment: _Side | None
    retry_after: float | None

class ConfigError(TurnoutError): ...
class NoHealthyEnvironmentError(TurnoutError): ...
class ClientRateLimitError(TurnoutError): ...
class ClientClosedError(TurnoutError): ...
class StoreError(TurnoutError): ...
class NoRolloutError(TurnoutError): ...
class UnknownCheckpointError(TurnoutError): ...
class RefusedError(TurnoutError): ...

class APIError(TurnoutError):
    code: Any
    type: str | None
    param: str | None
    body: Any

class APIConnectionError(APIError): ...
class APITimeoutError(APIConnectionError): ...
class StreamInterruptedError(APIError): ...

class APIStatusError(APIError):
    status_code: int
    _raw_body: str

class BadRequestError(APIStatusError): ...
class AuthenticationError(APIStatusError): ...
class PermissionDeniedError(APIStatusError): ...
class NotFoundError(APIStatusError): ...
class UnprocessableEntityError(APIStatusError): ...
class RateLimitError(APIStatusError): ...
class InternalServerError(APIStatusError): ...
