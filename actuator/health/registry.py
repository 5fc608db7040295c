"""The registry of health indicators: names, groups, tags and their check trees."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from actuator.health.checker import HealthCheck
from actuator.health.indicator import indicator_callable

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")

Node = HealthCheck | Mapping[str, "Node"]
"""A leaf check, or a composite: a mapping of names to nodes."""


def check_indicator_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"indicator name must be letters, digits, '_', '.' or '-' (no '/'); got {name!r}"
        )
    return name


@dataclass(frozen=True)
class Registration:
    """One top-level indicator (or composite) as registered."""

    name: str
    node: Node
    groups: frozenset[str]
    tags: frozenset[str]
    source: object

    def leaves(self) -> Iterator[HealthCheck]:
        yield from iter_leaves(self.node)


def iter_leaves(node: Node) -> Iterator[HealthCheck]:
    if isinstance(node, HealthCheck):
        yield node
    else:
        for child in node.values():
            yield from iter_leaves(child)


def build_node(
    path: str,
    indicator: object,
    *,
    timeout: float,
    ttl: float | None,
    interval: float | None,
    blocking: bool | None,
) -> Node:
    """A check for an indicator, or a tree of them for a mapping (a composite)."""
    if isinstance(indicator, Mapping):
        if not indicator:
            raise ValueError(f"composite indicator {path!r} has no members")
        return {
            check_indicator_name(name): build_node(
                f"{path}/{name}",
                member,
                timeout=timeout,
                ttl=ttl,
                interval=interval,
                blocking=blocking,
            )
            for name, member in indicator.items()
        }
    fn = indicator_callable(indicator, path)
    return HealthCheck(path, fn, timeout=timeout, ttl=ttl, interval=interval, blocking=blocking)
