"""``/actuator/metrics``: the registry's metrics in Spring Boot's JSON shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample

from actuator.endpoints.base import BadRequest, Endpoint, NotFound, OperationRequest

if TYPE_CHECKING:
    import concurrent.futures

    from actuator.metrics.registry import ActuatorMetrics

_BASE_UNITS = ("seconds", "bytes", "ratio", "threads", "tasks")
_BUCKET_LABELS = frozenset({"le", "quantile"})


class MetricsEndpoint(Endpoint):
    """``GET /metrics`` lists metric names; ``GET /metrics/{name}?tag=key:value`` describes one.

    ::

        GET /actuator/metrics
        {"names": ["actuator_health_status", "http_server_requests_seconds", ...]}

        GET /actuator/metrics/http_server_requests_seconds?tag=status:200
        {"name": "http_server_requests_seconds", "description": "...", "baseUnit": "seconds",
         "measurements": [{"statistic": "COUNT", "value": 12.0},
                          {"statistic": "TOTAL_TIME", "value": 0.0341}],
         "availableTags": [{"tag": "method", "values": ["GET"]}, ...]}

    Names are Prometheus family names (a counter without ``_total``); Micrometer's
    dotted names work too (``http.server.requests``). Measurements add up every
    series that has all the given tags; ``availableTags`` lists the other labels
    of those series. Unknown name, or no series with those tags: 404;
    a tag that is not ``key:value``: 400.
    """

    name: ClassVar[str] = "metrics"
    selector: ClassVar[str | None] = "requiredMetricName"
    query_params: ClassVar[frozenset[str]] = frozenset({"tag"})
    max_path: ClassVar[int | None] = 1

    def __init__(
        self,
        metrics: ActuatorMetrics,
        executor: Callable[[], concurrent.futures.Executor],
    ) -> None:
        self.metrics = metrics
        self.executor = executor

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        metrics = self.metrics
        if not request.path:
            if request.query:
                raise BadRequest("Tags select the series of one metric: "
                                 "ask /metrics/{name}?tag=key:value", parameter="tag")
            families = await self._collect(metrics.scrape_registry)
            return {"names": sorted(families)}
        name = request.path[0]
        tags = parse_tags(request.query.get("tag", ()))
        if name.replace(".", "_").startswith("actuator_health"):
            await metrics.refresh_health()
        families = await self._collect(metrics.scrape_registry)
        family = resolve(name, families)
        if family is None:
            raise NotFound(f"No metric named {name!r}; GET /metrics lists them")
        return describe(family, tags)

    async def _collect(self, registry: CollectorRegistry) -> dict[str, _Family]:
        return await asyncio.get_running_loop().run_in_executor(
            self.executor(), collect_families, registry)


class _Family:
    """The samples of one metric name, gathered from every collector that reports it."""

    def __init__(self, name: str, documentation: str, kind: str, unit: str) -> None:
        self.name = name
        self.documentation = documentation
        self.kind = kind
        self.unit = unit
        self.samples: list[Sample] = []


def collect_families(registry: CollectorRegistry) -> dict[str, _Family]:
    families: dict[str, _Family] = {}
    for metric in registry.collect():
        family = families.get(metric.name)
        if family is None:
            family = families[metric.name] = _Family(metric.name, metric.documentation,
                                                     metric.type, metric.unit)
        family.samples.extend(s for s in metric.samples if not s.name.endswith("_created"))
    return families


def parse_tags(values: Iterable[str]) -> list[tuple[str, str]]:
    tags = []
    for value in values:
        key, colon, tag_value = value.partition(":")
        if not colon or not key:
            raise BadRequest(f"Malformed tag {value!r}: expected key:value", parameter="tag")
        tags.append((key, tag_value))
    return tags


def resolve(name: str, families: Mapping[str, _Family]) -> _Family | None:
    """The family for a Prometheus name or a Micrometer dotted name (``jvm.threads.live``)."""
    base = name.replace(".", "_")
    for candidate in (name, base, base + "_seconds", base + "_bytes",
                      base.removesuffix("_total"), base.removesuffix("_info")):
        family = families.get(candidate)
        if family is not None:
            return family
    return None


def describe(family: _Family, tags: list[tuple[str, str]]) -> dict[str, Any]:
    samples = [s for s in family.samples if all(s.labels.get(k) == v for k, v in tags)]
    if tags and not samples:
        wanted = ", ".join(f"{k}:{v}" for k, v in tags)
        raise NotFound(f"No series of metric {family.name!r} has the tags {wanted}")
    unit = family.unit or next((u for u in _BASE_UNITS if family.name.endswith("_" + u)), None)
    queried = {k for k, _ in tags}
    available: dict[str, set[str]] = {}
    for sample in samples:
        for key, value in sample.labels.items():
            if key not in queried and key not in _BUCKET_LABELS:
                available.setdefault(key, set()).add(value)
    return {
        "name": family.name,
        "description": family.documentation or None,
        "baseUnit": unit,
        "measurements": _measurements(family, samples, unit),
        "availableTags": [{"tag": key, "values": sorted(values)}
                          for key, values in sorted(available.items())],
    }


def _measurements(family: _Family, samples: list[Sample], unit: str | None
                  ) -> list[dict[str, Any]]:
    def total(suffix: str) -> float:
        name = family.name + suffix
        return float(sum(s.value for s in samples if s.name == name))

    if family.kind == "counter":
        return [{"statistic": "COUNT", "value": total("_total")}]
    if family.kind in ("histogram", "summary", "gaugehistogram"):
        gauge = family.kind == "gaugehistogram"
        count, sum_ = ("_gcount", "_gsum") if gauge else ("_count", "_sum")
        return [{"statistic": "COUNT", "value": total(count)},
                {"statistic": "TOTAL_TIME" if unit == "seconds" else "TOTAL",
                 "value": total(sum_)}]
    return [{"statistic": "VALUE", "value": float(sum(s.value for s in samples))}]
