"""``/actuator/metrics``: the registry's metrics in Spring Boot's JSON shape."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample

from actuator.endpoints.base import BadRequest, Endpoint, NotFound, OperationRequest

if TYPE_CHECKING:
    import concurrent.futures

    from actuator.metrics.registry import ActuatorMetrics

_BASE_UNITS = ("seconds", "bytes", "ratio", "threads", "tasks")
_BUCKET_LABELS = frozenset({"le", "quantile"})
_MICROMETER_NAMES = {"system_cpus": "system.cpu.count"}
"""Micrometer names that do not follow from the Prometheus name (see actuator.metrics.system)."""


class MetricsEndpoint(Endpoint):
    """``GET /metrics`` lists metric names; ``GET /metrics/{name}?tag=key:value`` describes one.

    ::

        GET /actuator/metrics
        {"names": ["actuator.health.status", "http.server.requests", "process.uptime", ...]}

        GET /actuator/metrics/http.server.requests?tag=status:200
        {"name": "http.server.requests", "description": "...", "baseUnit": "seconds",
         "measurements": [{"statistic": "COUNT", "value": 12.0},
                          {"statistic": "TOTAL_TIME", "value": 0.0341},
                          {"statistic": "MAX", "value": 0.005}],
         "availableTags": [{"tag": "method", "values": ["GET"]}, ...]}

    With ``metrics.naming = "micrometer"`` (the default) ``names`` lists
    Micrometer's dotted names, as Spring Boot Admin looks them up: the
    Prometheus family name without its base unit (``_seconds``, ``_bytes``...),
    underscores made dots (``http_server_requests_seconds`` is
    ``http.server.requests``; ``system_cpus`` is ``system.cpu.count``). With
    ``otel`` naming it lists the Prometheus family names. Either name (and a
    counter's ``_total`` name) resolves.

    Measurements add up every series that has all the given tags;
    ``availableTags`` lists the other labels of those series. A histogram's
    ``MAX`` is the largest value of its ``<name>_max`` gauge when there is one
    (Micrometer's convention); otherwise the upper bound of the highest bucket
    that holds an observation (an upper bound, not the exact maximum; ``null``
    when that is the ``+Inf`` bucket). Unknown name, or no series with those
    tags: 404; a tag that is not ``key:value``: 400.
    """

    name: ClassVar[str] = "metrics"
    selector: ClassVar[str | None] = "requiredMetricName"
    query_params: ClassVar[frozenset[str]] = frozenset({"tag"})
    max_path: ClassVar[int | None] = 1

    def __init__(
        self,
        metrics: ActuatorMetrics,
        executor: Callable[[], concurrent.futures.Executor],
        naming: Literal["micrometer", "otel"],
    ) -> None:
        self.metrics = metrics
        self.executor = executor
        self.naming = naming

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        metrics = self.metrics
        if not request.path:
            if request.query:
                raise BadRequest(
                    "Tags select the series of one metric: ask /metrics/{name}?tag=key:value",
                    parameter="tag",
                )
            families = await self._collect(metrics.scrape_registry)
            if self.naming != "micrometer":
                return {"names": sorted(families)}
            return {"names": sorted(dotted_names(families))}
        name = request.path[0]
        tags = parse_tags(request.query.get("tag", ()))
        if name.replace(".", "_").startswith("actuator_health"):
            await metrics.refresh_health()
        families = await self._collect(metrics.scrape_registry)
        family = resolve(name, families)
        if family is None:
            raise NotFound(f"No metric named {name!r}; GET /metrics lists them")
        return describe(family, tags, name, families.get(family.name + "_max"))

    async def _collect(self, registry: CollectorRegistry) -> dict[str, _Family]:
        return await asyncio.get_running_loop().run_in_executor(
            self.executor(), collect_families, registry
        )


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
            family = families[metric.name] = _Family(
                metric.name, metric.documentation, metric.type, metric.unit
            )
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


def dotted_names(families: Mapping[str, _Family]) -> dict[str, _Family]:
    """Micrometer's dotted name of each family; a family whose short name another one
    already has keeps its unit (``foo.seconds``)."""
    names: dict[str, _Family] = {}
    for family in sorted(families.values(), key=lambda f: len(f.name)):
        short = family.name
        for unit in _BASE_UNITS:
            if short.endswith("_" + unit) and len(short) > len(unit) + 1:
                short = short[: -len(unit) - 1]
                break
        dotted = _MICROMETER_NAMES.get(family.name) or short.replace("_", ".")
        if dotted in names:
            dotted = family.name.replace("_", ".")
        names[dotted] = family
    return names


def resolve(name: str, families: Mapping[str, _Family]) -> _Family | None:
    """The family for a Prometheus name or a Micrometer dotted name (``jvm.threads.live``)."""
    if "." in name:
        found = dotted_names(families).get(name)
        if found is not None:
            return found
    base = name.replace(".", "_")
    for candidate in (
        name,
        base,
        base + "_seconds",
        base + "_bytes",
        base.removesuffix("_total"),
        base.removesuffix("_info"),
    ):
        family = families.get(candidate)
        if family is not None:
            return family
    return None


def describe(
    family: _Family,
    tags: list[tuple[str, str]],
    name: str | None = None,
    maximum: _Family | None = None,
) -> dict[str, Any]:
    """Spring's answer for one metric; ``name`` is the name asked for (Spring echoes it)."""
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
    measurements = _measurements(family, samples, unit)
    if family.kind in ("histogram", "gaugehistogram"):
        measurements.append({"statistic": "MAX", "value": _maximum(family, samples, tags, maximum)})
    return {
        "name": name or family.name,
        "description": family.documentation or None,
        "baseUnit": unit,
        "measurements": measurements,
        "availableTags": [
            {"tag": key, "values": sorted(values)} for key, values in sorted(available.items())
        ],
    }


def _measurements(family: _Family, samples: list[Sample], unit: str | None) -> list[dict[str, Any]]:
    def total(suffix: str) -> float:
        name = family.name + suffix
        return float(sum(s.value for s in samples if s.name == name))

    if family.kind == "counter":
        return [{"statistic": "COUNT", "value": total("_total")}]
    if family.kind in ("histogram", "summary", "gaugehistogram"):
        gauge = family.kind == "gaugehistogram"
        count, sum_ = ("_gcount", "_gsum") if gauge else ("_count", "_sum")
        return [
            {"statistic": "COUNT", "value": total(count)},
            {"statistic": "TOTAL_TIME" if unit == "seconds" else "TOTAL", "value": total(sum_)},
        ]
    return [{"statistic": "VALUE", "value": float(sum(s.value for s in samples))}]


def _maximum(
    family: _Family, samples: list[Sample], tags: list[tuple[str, str]], maximum: _Family | None
) -> float:
    """The MAX statistic: the ``_max`` gauge when the family has one, else the upper
    bound of the highest bucket holding an observation (``inf`` when that is ``+Inf``)."""
    if maximum is not None:
        values = [s.value for s in maximum.samples if all(s.labels.get(k) == v for k, v in tags)]
        if values:
            return float(max(values))
    bucket = family.name + ("_gbucket" if family.kind == "gaugehistogram" else "_bucket")
    series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
    for sample in samples:
        if sample.name != bucket or "le" not in sample.labels:
            continue
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        series.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
    highest = 0.0
    for buckets in series.values():
        buckets.sort()
        below = 0.0
        for bound, cumulative in buckets:
            if cumulative > below:
                highest = max(highest, bound)
            below = cumulative
    return highest
