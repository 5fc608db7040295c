"""What counts as a health indicator, and turning what it returns into ``Health``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from actuator.health.result import Health
from actuator.health.status import Status

HealthResult = Health | Status | bool
"""What an indicator may return: ``Health``, a bare ``Status`` or a bool (True is UP)."""


@runtime_checkable
class HealthIndicator(Protocol):
    """An object that reports health. ``health`` may be sync or async.

    Sync indicators run in the actuator's own bounded thread pool; async ones
    run on the event loop. Raising is allowed: the exception becomes DOWN with
    ``error`` naming its type and message.

    If the object also has ``start()`` / ``stop()`` (sync or async), they are
    called when the app starts and stops (for connections or heartbeats)::

        class CacheIndicator:
            async def health(self) -> Health:
                await redis.ping()
                return Health.up()
    """

    def health(self) -> HealthResult | Awaitable[HealthResult]: ...


IndicatorFunction = Callable[[], HealthResult | Awaitable[HealthResult]]
Indicator = IndicatorFunction | HealthIndicator | Mapping[str, Any]
"""A function, an object with ``health()``, or a mapping of names to indicators (a composite)."""


def to_health(value: object, name: str) -> Health:
    """Normalise an indicator's return value, or raise ``TypeError`` naming the indicator."""
    if isinstance(value, Health):
        return value
    if isinstance(value, Status):
        return Health(value)
    if isinstance(value, bool):
        return Health(Status.UP if value else Status.DOWN)
    raise TypeError(
        f"indicator {name!r} returned {type(value).__name__}; expected Health, Status or bool"
    )


def indicator_callable(indicator: object, name: str) -> IndicatorFunction:
    """The callable that checks ``indicator``: its ``health`` method, or itself."""
    method = getattr(indicator, "health", None)
    if method is not None and callable(method):
        return method  # type: ignore[no-any-return]
    if callable(indicator):
        return indicator
    raise TypeError(
        f"indicator {name!r} must be a callable, an object with health(), or a mapping of "
        f"indicators; got {type(indicator).__name__}"
    )
