"""Health groups: named selections of indicators with their own policies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from actuator.health.aggregator import StatusAggregator
from actuator.health.http_mapper import HttpCodeStatusMapper
from actuator.settings import ShowPolicy

if TYPE_CHECKING:
    from actuator.health.registry import Registration

LIVENESS = "liveness"
READINESS = "readiness"
STARTUP = "startup"


@dataclass(frozen=True)
class HealthGroup:
    """A named selection of indicators, served at ``/health/{name}``.

    An indicator is a member when it named the group on registration
    (``groups=[...]``) or matches ``include``, unless it matches ``exclude``.
    Patterns are an indicator name, ``*`` or ``tag:<tag>``.
    """

    name: str
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    aggregator: StatusAggregator = field(default_factory=StatusAggregator)
    http_mapper: HttpCodeStatusMapper = field(default_factory=HttpCodeStatusMapper)
    show_details: ShowPolicy = "never"
    show_components: ShowPolicy = "never"

    def is_member(self, registration: Registration) -> bool:
        if _matches(self.exclude, registration):
            return False
        return self.name in registration.groups or _matches(self.include, registration)

    def members(self, registrations: Iterable[Registration]) -> list[Registration]:
        return [r for r in registrations if self.is_member(r)]


def _matches(patterns: tuple[str, ...], registration: Registration) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == registration.name:
            return True
        if pattern.startswith("tag:") and pattern[4:] in registration.tags:
            return True
    return False


def shows(policy: ShowPolicy, authorized: bool) -> bool:
    """Whether a show policy reveals something to this caller."""
    return policy == "always" or (policy == "when_authorized" and authorized)
