"""``ActuatorMetrics``: the registry of one actuator and everything recorded into it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from actuator.metrics.health import HealthCollector
from actuator.metrics.http import HttpServerMetrics
from actuator.metrics.info import InfoCollector
from actuator.metrics.multiprocess import multiprocess_dir, multiprocess_registry
from actuator.metrics.process import RuntimeCollector, register_process_collectors
from actuator.metrics.system import SystemCollector

if TYPE_CHECKING:
    from actuator.health.service import HealthService
    from actuator.settings import ActuatorSettings


class ActuatorMetrics:
    """The metrics of one ``Actuator``, available as ``actuator.metrics``.

    Each actuator has its own ``CollectorRegistry`` unless given one, so two
    apps (or many tests) in one process never collide. Register your own
    metrics in it to serve them from ``/actuator/prometheus``::

        from prometheus_client import Counter

        orders = Counter("orders_placed", "Orders placed", registry=actuator.metrics.registry)

    or pass ``Actuator(registry=prometheus_client.REGISTRY)`` to serve the
    global registry (where libraries register theirs) alongside.

    Attributes:
        registry: the registry the actuator's metrics are registered in.
        http: the HTTP server instrumentation, ``None`` when ``metrics.enabled`` is off.
        multiprocess_dir: ``PROMETHEUS_MULTIPROC_DIR`` when in multiprocess mode.
    """

    def __init__(
        self,
        settings: ActuatorSettings,
        health: HealthService,
        app_info: Callable[[], Mapping[str, Any]],
        registry: CollectorRegistry | None = None,
        collectors: Sequence[Collector] = (),
    ) -> None:
        if registry is not None and not isinstance(registry, CollectorRegistry):
            raise TypeError(
                f"registry must be a prometheus_client CollectorRegistry, "
                f"got {type(registry).__name__}"
            )
        metrics = settings.metrics
        self.health = health
        self._refreshes_health = metrics.health
        self.multiprocess_dir: Path | None = multiprocess_dir(required=metrics.multiprocess)
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.http = (
            HttpServerMetrics(self.registry, metrics, settings.base_path)
            if metrics.enabled
            else None
        )
        shared: list[Collector] = [InfoCollector(settings.info, app_info)]
        if metrics.health:
            shared.append(HealthCollector(health))
        shared.extend(collectors)
        for collector in shared:
            _register(self.registry, collector)
        if self.multiprocess_dir is None:
            self._scrape_registry = self.registry
            if metrics.process:
                register_process_collectors(self.registry)
                _register(self.registry, RuntimeCollector(health, health.checker))
                _register(self.registry, SystemCollector())
        else:
            # Per-process series (CPU, memory, the event loop of one worker)
            # do not add up across workers: only merged and shared ones are served.
            self._scrape_registry = multiprocess_registry(self.multiprocess_dir)
            for collector in shared:
                self._scrape_registry.register(collector)

    @property
    def scrape_registry(self) -> CollectorRegistry:
        """What ``/actuator/prometheus`` and ``/actuator/metrics`` read: the registry, or
        in multiprocess mode a registry merging every worker's samples."""
        return self._scrape_registry

    async def refresh_health(self) -> None:
        """Run the health checks whose results are stale, so health gauges are current."""
        if self._refreshes_health:
            health = self.health
            await health.checker.collect(health.checks(), health.settings.deadline)


def _register(registry: CollectorRegistry, collector: Collector) -> None:
    try:
        registry.register(collector)
    except ValueError as exc:
        raise ValueError(
            f"Cannot register the actuator's metrics in the given registry ({exc}); "
            f"is another Actuator using it?"
        ) from None
