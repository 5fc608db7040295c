"""Health results: what an indicator reports and what aggregation builds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from actuator.health.status import Status


def describe_exception(error: BaseException) -> str:
    """``"<module.Type>: <message>"``: how health answers name an error."""
    cls = type(error)
    name = cls.__qualname__
    if cls.__module__ != "builtins":
        name = f"{cls.__module__}.{name}"
    message = str(error)
    return f"{name}: {message}" if message else name


@dataclass(frozen=True)
class Health:
    """An immutable health result: a status plus details.

    Build one with the factory methods::

        Health.up(pool_size=10)
        Health.down(error)                # an exception or a message
        Health.down(reason="replica lag", lag_seconds=12.5)
        Health.out_of_service(reason="maintenance")
        Health.unknown()
        Health(status=Status("DEGRADED"), details={"shards": 3})

    Parameters:
        status: defaults to ``Status.UP``.
        details: any JSON-able mapping; shown only when the show-details policy allows.
    """

    status: Status = Status.UP
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            raise TypeError(f"Health status must be a Status, got {type(self.status).__name__}")
        if not isinstance(self.details, Mapping):
            raise TypeError(f"Health details must be a mapping, got {type(self.details).__name__}")
        object.__setattr__(self, "details", MappingProxyType(dict(self.details)))

    @classmethod
    def up(cls, **details: Any) -> Health:
        return cls(Status.UP, details)

    @classmethod
    def down(cls, error: BaseException | str | None = None, /, **details: Any) -> Health:
        """DOWN, with ``error`` recorded as ``details["error"]`` when given."""
        if error is not None:
            details = {"error": _error_text(error), **details}
        return cls(Status.DOWN, details)

    @classmethod
    def out_of_service(cls, **details: Any) -> Health:
        return cls(Status.OUT_OF_SERVICE, details)

    @classmethod
    def unknown(cls, **details: Any) -> Health:
        return cls(Status.UNKNOWN, details)

    @classmethod
    def init(cls, **details: Any) -> Health:
        return cls(Status.INIT, details)

    def with_details(self, **details: Any) -> Health:
        """A copy with ``details`` added (replacing keys that already exist)."""
        return Health(self.status, {**self.details, **details})


@dataclass(frozen=True)
class CompositeHealth:
    """The aggregated health of several named components."""

    status: Status
    components: Mapping[str, HealthComponent] = field(default_factory=dict)


HealthComponent = Health | CompositeHealth


def _error_text(error: BaseException | str) -> str:
    if isinstance(error, BaseException):
        return describe_exception(error)
    return str(error)
