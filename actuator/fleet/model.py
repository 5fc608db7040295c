"""What the fleet console knows: instances, service groups, status changes.

An *instance* is one process with an actuator. It reports the actuator's own
status (``UP``, ``DOWN``, ``OUT_OF_SERVICE``, ``INIT``, ``UNKNOWN`` or a custom
code); the console adds ``DISCONNECTED`` when nothing was heard from it for
``disconnect_after`` seconds, by its own clock.

A *service group* is the instances that share the grouping keys (by default
the service name and the ``environment`` and ``application`` facts). Its id is
a stable hash of those values, so it is the same on every console and after
restarts. Its status is a rollup of its instances' statuses (see ``rollup``).

Updates arrive as ``InstanceUpdate`` (validated, size-bounded):

- ``register``: everything about the instance (service, version, facts, ...)
  and its status; creates or replaces the instance;
- ``status``: the current status (a heartbeat when it did not change);
- ``deregister``: the instance stopped on purpose; it is removed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

UP = "UP"
DOWN = "DOWN"
OUT_OF_SERVICE = "OUT_OF_SERVICE"
INIT = "INIT"
UNKNOWN = "UNKNOWN"
DISCONNECTED = "DISCONNECTED"

# Most severe first: the order groups sort by when sorted by status. Custom
# codes an actuator may report rank as UNKNOWN.
SEVERITY: tuple[str, ...] = (DOWN, DISCONNECTED, UNKNOWN, OUT_OF_SERVICE, INIT, UP)
_RANK = {code: len(SEVERITY) - i for i, code in enumerate(SEVERITY)}

MAX_BATCH = 5000
"""Updates in one ingest request."""

FACT_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
_ID = r"^[A-Za-z0-9_.:@-]+$"

StatusCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]*$", max_length=32)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_ID)]
Text = Annotated[str, StringConstraints(max_length=200)]
Scalar = str | int | float | bool


def rank(status: str) -> int:
    """Severity of a status code for sorting: higher is worse (``DOWN`` highest)."""
    return _RANK.get(status, _RANK[UNKNOWN])


def fact_text(value: Scalar) -> str:
    """Facts are labels: stored and compared as text (``true``, ``3``, ``prod``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class InstanceUpdate(BaseModel):
    """One update from (or about) one instance; see the module docstring for the types.

    ``components`` names the health components that are not UP, so a group
    page can say "DOWN: database" without asking the instance.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["register", "status", "deregister"]
    id: Name
    status: StatusCode | None = None
    components: list[Text] = Field(default_factory=list, max_length=100)
    service: Name | None = None
    version: Text | None = None
    url: Annotated[str, StringConstraints(max_length=2000)] | None = None
    facts: dict[str, Scalar] = Field(default_factory=dict, max_length=64)
    build: dict[str, Scalar | None] = Field(default_factory=dict, max_length=32)
    git: dict[str, Scalar | None] = Field(default_factory=dict, max_length=32)

    @field_validator("facts")
    @classmethod
    def _fact_keys(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        for key, item in value.items():
            if not FACT_KEY.match(key):
                raise ValueError(
                    f"fact name {key[:70]!r} must be letters, digits, '_', '.', '-' (at most 64)"
                )
            if isinstance(item, str) and len(item) > 200:
                raise ValueError(f"fact {key!r} is longer than 200 characters")
        return value

    @model_validator(mode="after")
    def _required(self) -> InstanceUpdate:
        if self.type != "deregister" and self.status is None:
            raise ValueError(f"a {self.type} update needs a status")
        if self.type == "register" and self.service is None:
            raise ValueError("a register update needs a service")
        return self


class IngestBatch(BaseModel):
    """The body of ``POST /fleet/api/ingest``: ``{"updates": [...]}``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    updates: list[InstanceUpdate] = Field(max_length=MAX_BATCH)


@dataclass(frozen=True)
class Grouping:
    """How instances form service groups, and how a group's status is rolled up.

    Parameters:
        keys: ``service`` (the service name) and fact names; default
            ``service``, ``environment``, ``application``.
        down_threshold: ``None`` (default): a group is DOWN when any instance
            is DOWN. A percentage: DOWN only when more than this share of its
            instances are DOWN.
        thresholds: per service name or group id, overriding ``down_threshold``.
    """

    keys: tuple[str, ...] = ("service", "environment", "application")
    down_threshold: float | None = None
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.keys or self.keys[0] != "service":
            raise ValueError("grouping.keys must start with 'service'")
        for key in self.keys[1:]:
            if not FACT_KEY.match(key):
                raise ValueError(f"grouping.keys: {key!r} is not a fact name")
        for name, value in (
            ("down_threshold", self.down_threshold),
            *((f"thresholds.{k}", v) for k, v in self.thresholds.items()),
        ):
            if value is not None and not 0 <= value <= 100:
                raise ValueError(f"grouping.{name} must be a percentage 0..100, got {value}")

    def values(self, service: str, facts: Mapping[str, str]) -> dict[str, str | None]:
        """The grouping values of an instance: ``{"service": ..., "environment": ...}``."""
        return {"service": service, **{key: facts.get(key) for key in self.keys[1:]}}

    def group_id(self, values: Mapping[str, str | None]) -> str:
        """A stable id: the first 16 hex digits of the SHA-256 of the values as JSON."""
        text = json.dumps([[key, values.get(key)] for key in self.keys], separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def threshold(self, group_id: str, service: str) -> float | None:
        return self.thresholds.get(group_id, self.thresholds.get(service, self.down_threshold))


def rollup(counts: Mapping[str, int], threshold: float | None = None) -> str:
    """A group's status from its instances' status counts.

    DOWN if any instance is DOWN (with ``threshold``: if more than that
    percentage are DOWN); else DISCONNECTED, then UNKNOWN (custom codes count
    as UNKNOWN) if any; else OUT_OF_SERVICE, then INIT if any (intentional
    states, not alarms); else UP. A group with no instances is UNKNOWN.

    >>> rollup({"UP": 9, "DOWN": 1})
    'DOWN'
    >>> rollup({"UP": 9, "DOWN": 1}, threshold=20)
    'UP'
    """
    total = sum(counts.values())
    if total == 0:
        return UNKNOWN
    down = counts.get(DOWN, 0)
    if down and (threshold is None or down * 100 > threshold * total):
        return DOWN
    if counts.get(DISCONNECTED, 0):
        return DISCONNECTED
    known = {DOWN, DISCONNECTED, OUT_OF_SERVICE, INIT, UP}
    if any(n for code, n in counts.items() if code not in known):
        return UNKNOWN
    for code in (OUT_OF_SERVICE, INIT):
        if counts.get(code, 0):
            return code
    return UP


@dataclass(frozen=True)
class Page:
    """One page of a query: the items, the total that matched, where it starts."""

    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int

    def json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "offset": self.offset,
            "limit": self.limit,
        }


@dataclass(frozen=True)
class InstanceQuery:
    """Filters, sort and page for instances. Filters are ANDed; lists within one are ORed."""

    statuses: Sequence[str] = ()
    services: Sequence[str] = ()
    versions: Sequence[str] = ()
    group: str | None = None
    facts: Mapping[str, str] = field(default_factory=dict)
    text: str | None = None
    ids: Sequence[str] = ()
    sort: str = "id"
    descending: bool = False
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True)
class GroupQuery:
    """Filters, sort and page for service groups; ``facts`` match the grouping values."""

    statuses: Sequence[str] = ()
    services: Sequence[str] = ()
    facts: Mapping[str, str] = field(default_factory=dict)
    sort: str = "status"
    descending: bool = False
    offset: int = 0
    limit: int = 50


INSTANCE_SORTS = ("id", "service", "status", "version", "lastSeen", "statusSince")
GROUP_SORTS = ("name", "status", "percentUp", "statusSince", "instances")


@dataclass
class IngestResult:
    """What one batch did: updates applied, instances it did not know (they must
    register again), and how many status changes it recorded."""

    accepted: int = 0
    unknown: list[str] = field(default_factory=list)
    changes: int = 0

    def json(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "unknown": self.unknown, "changes": self.changes}


@dataclass
class SweepResult:
    disconnected: int = 0
    forgotten: int = 0
    events_dropped: int = 0


def versions_summary(rows: Iterable[tuple[str | None, int]]) -> dict[str, int]:
    summary: dict[str, int] = {}
    for version, count in rows:
        key = version or "unknown"
        summary[key] = summary.get(key, 0) + count
    return summary
