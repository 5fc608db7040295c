"""Health as gauges: one series per indicator, per group and overall, with the status as a label.

::

    actuator_health_status{status="UP"} 1.0
    actuator_health_group_status{group="readiness",status="UP"} 1.0
    actuator_health_indicator_status{indicator="database",status="DOWN"} 0.0

The value is 1 for UP and 0 for anything else. The collector reads the
indicators' last results and never runs a check itself (collection must not
do I/O); ``/actuator/prometheus`` refreshes them first, through the health
checker, so each scrape sees results no older than the indicators' own
``ttl``/``interval`` allow. An indicator that never ran reports ``UNKNOWN``.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from actuator.health.result import Health
from actuator.health.service import HealthService, aggregate
from actuator.health.status import Status

OVERALL = "actuator_health_status"
GROUP = "actuator_health_group_status"
INDICATOR = "actuator_health_indicator_status"
_NEVER_RAN = Health.unknown()


class HealthCollector:
    """A prometheus-client collector over an actuator's indicators and groups."""

    def __init__(self, health: HealthService) -> None:
        self.health = health

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        registrations = self.health.registrations
        results = {
            leaf: leaf.last_result or _NEVER_RAN for r in registrations for leaf in r.leaves()
        }
        root = self.health.root_group
        statuses = {r.name: aggregate(r.node, results, root).status for r in registrations}
        overall, groups, indicators = self._families()
        _add(overall, (), root.aggregator.aggregate(statuses.values()))
        for name, group in sorted(self.health.groups.items()):
            members = [statuses[r.name] for r in group.members(registrations)]
            _add(groups, (name,), group.aggregator.aggregate(members))
        for name, status in statuses.items():
            _add(indicators, (name,), status)
        return [overall, groups, indicators]

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                OVERALL, "Aggregated health: 1 when UP, 0 otherwise", labels=["status"]
            ),
            GaugeMetricFamily(
                GROUP, "Health of each group: 1 when UP, 0 otherwise", labels=["group", "status"]
            ),
            GaugeMetricFamily(
                INDICATOR,
                "Health of each indicator: 1 when UP, 0 otherwise",
                labels=["indicator", "status"],
            ),
        ]


def _add(family: GaugeMetricFamily, labels: tuple[str, ...], status: Status) -> None:
    family.add_metric([*labels, status.code], 1.0 if status == Status.UP else 0.0)
