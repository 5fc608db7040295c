"""The registered indicators and groups, and the one place that checks and aggregates them.

The health endpoint, the health gauges and ``Actuator.health()`` all read
health through a ``HealthService``, as Spring's ``HealthEndpoint`` reads its
``HealthContributorRegistry`` and ``HealthEndpointGroups``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from actuator.health.aggregator import StatusAggregator
from actuator.health.checker import HealthCheck, HealthChecker
from actuator.health.groups import LIVENESS, READINESS, STARTUP, HealthGroup
from actuator.health.http_mapper import HttpCodeStatusMapper
from actuator.health.registry import (
    Node,
    Registration,
    build_node,
    check_indicator_name,
    iter_leaves,
)
from actuator.health.result import CompositeHealth, Health, HealthComponent
from actuator.settings import GroupSettings, HealthSettings

_BUILTIN_GROUPS: Mapping[str, tuple[str, ...]] = {
    LIVENESS: ("livenessState",),
    READINESS: ("readinessState",),
    STARTUP: ("startupState",),
}


class HealthService:
    """Indicators by name, groups by name, and their aggregated health.

    Parameters:
        settings: the ``health`` settings (timeouts, groups, status order, HTTP mapping).
        checker: runs the checks concurrently under their deadlines.
        loop_in_liveness: ``eventLoop`` joins the liveness group (probes served on a
            thread of their own no longer wait on the app's loop: they read its heartbeat).
    """

    def __init__(
        self, settings: HealthSettings, checker: HealthChecker, *, loop_in_liveness: bool = False
    ) -> None:
        self.settings = settings
        self.checker = checker
        self._registrations: dict[str, Registration] = {}
        self.root_group = HealthGroup(
            "",
            include=("*",),
            aggregator=StatusAggregator(settings.status_order),
            http_mapper=HttpCodeStatusMapper(settings.http_mapping),
            show_details=settings.show_details,
            show_components=settings.show_components or settings.show_details,
        )
        self.groups: dict[str, HealthGroup] = {}
        builtins = dict(_BUILTIN_GROUPS)
        if loop_in_liveness and settings.event_loop.enabled:
            builtins[LIVENESS] = (*builtins[LIVENESS], "eventLoop")
        for name, builtin in builtins.items():
            self.groups[name] = self._make_group(
                name, settings.groups.get(name, GroupSettings()), builtin
            )
        for name, config in settings.groups.items():
            if name not in self.groups:
                self.groups[name] = self._make_group(name, config, ())

    # -- registration ---------------------------------------------------------

    def add(
        self,
        name: str,
        indicator: object,
        *,
        groups: Iterable[str] = (),
        tags: Iterable[str] = (),
        timeout: float | None = None,
        ttl: float | None = None,
        interval: float | None = None,
        blocking: bool | None = None,
    ) -> Registration:
        """Register an indicator; ``ValueError``/``TypeError`` naming the bad argument."""
        check_indicator_name(name)
        if name in self._registrations:
            raise ValueError(f"an indicator named {name!r} is already registered")
        if name in self.groups:
            raise ValueError(f"indicator name {name!r} is taken by a health group")
        timeout = self.settings.timeout if timeout is None else timeout
        for label, value in (("timeout", timeout), ("ttl", ttl), ("interval", interval)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(
                    f"{label} for indicator {name!r} must be a number of seconds, got {value!r}"
                )
            if not value > 0:
                raise ValueError(f"{label} for indicator {name!r} must be > 0, got {value!r}")
        member_of = frozenset(names(groups, "groups"))
        unknown = member_of - set(self.groups)
        if unknown:
            raise ValueError(
                f"indicator {name!r} names unknown group(s) {sorted(unknown)}; "
                f"declare them with add_group() or health.groups"
            )
        node = build_node(
            name, indicator, timeout=timeout, ttl=ttl, interval=interval, blocking=blocking
        )
        registration = Registration(
            name=name,
            node=node,
            groups=member_of,
            tags=frozenset(names(tags, "tags")),
            source=indicator,
        )
        self._registrations[name] = registration
        return registration

    def remove(self, name: str) -> Registration:
        """Unregister an indicator; ``KeyError`` when no indicator has that name."""
        registration = self._registrations.pop(name, None)
        if registration is None:
            raise KeyError(f"no indicator named {name!r}")
        return registration

    def add_group(self, name: str, **options: object) -> None:
        """Declare a group; ``options`` are ``GroupSettings`` fields, validated as settings are."""
        check_indicator_name(name)
        if name in self.groups:
            raise ValueError(f"a health group named {name!r} already exists")
        if name in self._registrations:
            raise ValueError(f"group name {name!r} is taken by an indicator")
        self.groups[name] = self._make_group(name, GroupSettings.model_validate(options), ())

    @property
    def registrations(self) -> list[Registration]:
        return list(self._registrations.values())

    def checks(self) -> Iterator[HealthCheck]:
        """Every leaf check of every indicator."""
        for registration in self._registrations.values():
            yield from registration.leaves()

    # -- reading --------------------------------------------------------------

    def resolve(self, path: tuple[str, ...]) -> tuple[HealthGroup, tuple[str, ...]]:
        """The group a path names (the root group when none) and the component path after it."""
        group = self.groups.get(path[0]) if path else None
        if group is not None:
            return group, path[1:]
        return self.root_group, path

    def select(self, group: HealthGroup, rest: tuple[str, ...]) -> Node | None:
        """The group's members, narrowed to a component path; ``None`` when there is none."""
        members: Mapping[str, Node] = {r.name: r.node for r in group.members(self.registrations)}
        if not rest:
            return members
        node: Node | None = members.get(rest[0])
        for segment in rest[1:]:
            if node is None or isinstance(node, HealthCheck):
                return None
            node = node.get(segment)
        return node

    async def check(self, node: Node, group: HealthGroup) -> HealthComponent:
        """Run the node's checks (within ``health.deadline``) and aggregate them by the group."""
        results = await self.checker.collect(iter_leaves(node), self.settings.deadline)
        return aggregate(node, results, group)

    async def health(self, *path: str) -> HealthComponent:
        """Everything, a group, or a component path; ``KeyError`` when the path names nothing."""
        group, rest = self.resolve(path)
        node = self.select(group, rest)
        if node is None:
            raise KeyError(f"no health group or component at {'/'.join(path)!r}")
        return await self.check(node, group)

    def _make_group(
        self, name: str, config: GroupSettings, builtin: tuple[str, ...]
    ) -> HealthGroup:
        root = self.root_group
        return HealthGroup(
            name,
            include=(*builtin, *config.include),
            exclude=tuple(config.exclude),
            aggregator=(
                StatusAggregator(config.status_order) if config.status_order else root.aggregator
            ),
            http_mapper=(
                HttpCodeStatusMapper(config.http_mapping)
                if config.http_mapping
                else root.http_mapper
            ),
            show_details=config.show_details or root.show_details,
            show_components=config.show_components or config.show_details or root.show_components,
        )


def aggregate(
    node: Node, results: Mapping[HealthCheck, Health], group: HealthGroup
) -> HealthComponent:
    """A node's health from its leaves' results, composites aggregated by the group's order."""
    if isinstance(node, HealthCheck):
        return results[node]
    components = {name: aggregate(child, results, group) for name, child in node.items()}
    status = group.aggregator.aggregate(c.status for c in components.values())
    return CompositeHealth(status, components)


def names(values: Iterable[str], label: str) -> list[str]:
    """A list of indicator-style names; a bare string is a ``TypeError`` naming ``label``."""
    if isinstance(values, str):
        raise TypeError(f"{label} must be a list of names, not a string")
    return [check_indicator_name(v) for v in values]
