"""``/actuator/metrics`` in Spring Boot's shape, reading the same registry as Prometheus."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator import Actuator
from actuator.endpoints.metrics import collect_families, describe
from tests.metrics.support import client

pytestmark = pytest.mark.usefixtures("anonymous_scrapes", "no_event_loop_heartbeat")


async def item(request: Request) -> PlainTextResponse:
    if request.path_params["item_id"] == "0":
        return PlainTextResponse("gone", status_code=404)
    return PlainTextResponse("item")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    actuator = Actuator(
        settings={
            "exposure": {"include": ["metrics"]},
            "health": {"disk_space": {"enabled": False}},
        }
    )
    Counter(
        "orders_placed", "Orders placed", ["region"], registry=actuator.metrics.registry
    ).labels("eu").inc(2)
    Summary("payload_size_bytes", "Payload sizes", registry=actuator.metrics.registry).observe(100)
    app = actuator.wrap(Starlette(routes=[Route("/items/{item_id}", item)]))
    async with client(app) as http:
        for item_id in ("1", "2", "0"):
            await http.get(f"/items/{item_id}")
        yield http


async def test_lists_metric_names(http: httpx.AsyncClient) -> None:
    response = await http.get("/actuator/metrics")
    assert response.status_code == 200
    names = response.json()["names"]
    assert names == sorted(names)
    assert {
        "http.server.requests",
        "http.server.requests.active",
        "orders.placed",
        "actuator.health.status",
        "process.cpu",
        "payload.size",
    } <= set(names)
    assert not any("_" in name for name in names)


async def test_otel_naming_lists_prometheus_family_names() -> None:
    actuator = Actuator(
        settings={
            "exposure": {"include": ["metrics"]},
            "metrics": {"naming": "otel"},
            "health": {"disk_space": {"enabled": False}},
        }
    )
    async with client(actuator.wrap(Starlette())) as http:
        names = (await http.get("/actuator/metrics")).json()["names"]
    assert "http_server_request_duration_seconds" in names


async def test_timers_have_a_max_statistic(http: httpx.AsyncClient) -> None:
    body = (await http.get("/actuator/metrics/http.server.requests")).json()
    statistics = {m["statistic"]: m["value"] for m in body["measurements"]}
    assert set(statistics) == {"COUNT", "TOTAL_TIME", "MAX"}
    assert statistics["MAX"] >= statistics["TOTAL_TIME"] / statistics["COUNT"]


def test_max_is_the_highest_occupied_bucket_bound_or_the_max_gauge() -> None:
    registry = CollectorRegistry()
    timer = Histogram("job_seconds", "Jobs", ["queue"], registry=registry)
    timer.labels("a").observe(0.3)
    timer.labels("b").observe(0.02)
    families = collect_families(registry)
    assert _max(describe(families["job_seconds"], [])) == 0.5
    assert _max(describe(families["job_seconds"], [("queue", "b")])) == 0.025
    timer.labels("b").observe(20.0)
    families = collect_families(registry)
    assert _max(describe(families["job_seconds"], [("queue", "b")])) == math.inf
    Gauge("job_seconds_max", "Slowest job", ["queue"], registry=registry).labels("a").set(0.31)
    families = collect_families(registry)
    assert (
        _max(describe(families["job_seconds"], [("queue", "a")], None, families["job_seconds_max"]))
        == 0.31
    )


def _max(body: dict[str, Any]) -> float:
    value: float = next(m["value"] for m in body["measurements"] if m["statistic"] == "MAX")
    return value


async def test_describes_a_timer_with_measurements_and_available_tags(
    http: httpx.AsyncClient,
) -> None:
    body = (await http.get("/actuator/metrics/http_server_requests_seconds")).json()
    assert body["name"] == "http_server_requests_seconds"
    assert body["baseUnit"] == "seconds"
    assert body["description"].startswith("Duration of HTTP server requests")
    statistics = {m["statistic"]: m["value"] for m in body["measurements"]}
    assert statistics["COUNT"] == 3.0
    assert statistics["TOTAL_TIME"] > 0
    tags = {t["tag"]: t["values"] for t in body["availableTags"]}
    assert tags == {
        "exception": ["none"],
        "method": ["GET"],
        "outcome": ["CLIENT_ERROR", "SUCCESS"],
        "status": ["200", "404"],
        "uri": ["/items/{item_id}"],
    }


async def test_tags_narrow_the_measurements(http: httpx.AsyncClient) -> None:
    response = await http.get(
        "/actuator/metrics/http_server_requests_seconds",
        params=[("tag", "status:404"), ("tag", "method:GET")],
    )
    body = response.json()
    assert [m for m in body["measurements"] if m["statistic"] == "COUNT"] == [
        {"statistic": "COUNT", "value": 1.0}
    ]
    assert {t["tag"] for t in body["availableTags"]} == {"exception", "outcome", "uri"}


async def test_micrometer_dotted_names_resolve(http: httpx.AsyncClient) -> None:
    body = (await http.get("/actuator/metrics/http.server.requests")).json()
    assert body["name"] == "http.server.requests"  # Spring echoes the name asked for
    assert body["baseUnit"] == "seconds"


async def test_counters_gauges_and_summaries_have_spring_statistics(
    http: httpx.AsyncClient,
) -> None:
    counter = (await http.get("/actuator/metrics/orders_placed_total")).json()
    assert counter["measurements"] == [{"statistic": "COUNT", "value": 2.0}]
    assert counter["availableTags"] == [{"tag": "region", "values": ["eu"]}]
    summary = (await http.get("/actuator/metrics/payload_size_bytes")).json()
    assert summary["baseUnit"] == "bytes"
    assert summary["measurements"] == [
        {"statistic": "COUNT", "value": 1.0},
        {"statistic": "TOTAL", "value": 100.0},
    ]
    health = (await http.get("/actuator/metrics/actuator_health_status")).json()
    assert health["measurements"] == [{"statistic": "VALUE", "value": 1.0}]
    assert health["availableTags"] == [{"tag": "status", "values": ["UP"]}]


async def test_unknown_metric_is_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/actuator/metrics/no_such_metric")
    assert response.status_code == 404
    assert "no_such_metric" in response.json()["message"]


async def test_tags_matching_no_series_are_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/actuator/metrics/http_server_requests_seconds?tag=status:418")
    assert response.status_code == 404
    assert "status:418" in response.json()["message"]


@pytest.mark.parametrize("tag", ["status", ":200", ""])
async def test_malformed_tag_is_400_naming_it(http: httpx.AsyncClient, tag: str) -> None:
    response = await http.get("/actuator/metrics/http_server_requests_seconds", params={"tag": tag})
    assert response.status_code == 400
    body = response.json()
    assert body["parameter"] == "tag"
    assert repr(tag) in body["message"]


async def test_tags_without_a_metric_name_are_400(http: httpx.AsyncClient) -> None:
    response = await http.get("/actuator/metrics?tag=status:200")
    assert response.status_code == 400


async def test_deeper_paths_are_404(http: httpx.AsyncClient) -> None:
    response = await http.get("/actuator/metrics/http_server_requests_seconds/extra")
    assert response.status_code == 404


async def test_discovery_links_the_templated_metric_path() -> None:
    actuator = Actuator(settings={"exposure": {"include": ["metrics", "prometheus"]}})
    async with client(actuator) as http:
        links = (await http.get("/actuator")).json()["_links"]
    assert links["metrics-requiredMetricName"] == {
        "href": "http://testserver/actuator/metrics/{requiredMetricName}",
        "templated": True,
    }
    assert links["prometheus"]["href"] == "http://testserver/actuator/prometheus"
