"""Overload protection on a real uvicorn: 429 with Retry-After, probes answered, metrics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from actuator.client import RetryPolicy, request
from tests.support.server import UvicornProcess

ENV = {
    "ACTUATOR_OVERLOAD__ENABLED": "true",
    "ACTUATOR_OVERLOAD__MODE": "fixed",
    "ACTUATOR_OVERLOAD__LIMIT": "2",
    "ACTUATOR_OVERLOAD__RETRY_AFTER": "1",
    "ACTUATOR_OVERLOAD__RETRY_AFTER_JITTER": "0",
    "ACTUATOR_EXPOSURE__INCLUDE": "health,prometheus,info",
    "ACTUATOR_SECURITY__ANONYMOUS": "*",
    "ACTUATOR_HEALTH__SHOW_DETAILS": "always",
}


@pytest.fixture(scope="module")
def server() -> Iterator[UvicornProcess]:
    with UvicornProcess("tests.e2e.overload_app:app", env=ENV) as running:
        yield running


async def test_requests_beyond_the_limit_get_429_while_probes_keep_answering(
    server: UvicornProcess,
) -> None:
    limits = httpx.Limits(max_connections=50)
    async with httpx.AsyncClient(base_url=server.url, timeout=10, limits=limits) as http:
        held = [
            asyncio.ensure_future(http.get("/slow", params={"seconds": "1.5"})) for _ in range(2)
        ]
        await asyncio.sleep(0.5)  # both are in flight
        refused = await asyncio.gather(*(http.get("/slow") for _ in range(6)))
        started = time.perf_counter()
        probes = await asyncio.gather(
            http.get("/actuator/health/liveness"), http.get("/actuator/health/readiness")
        )
        probe_seconds = time.perf_counter() - started
        metrics = (await http.get("/actuator/prometheus")).text
        overload = (await http.get("/actuator/health/overload")).json()
        served = await asyncio.gather(*held)
    assert [r.status_code for r in served] == [200, 200]
    assert {r.status_code for r in refused} == {429}
    assert {r.headers["retry-after"] for r in refused} == {"1"}
    assert refused[0].json()["reason"] == "limit"
    assert [p.status_code for p in probes] == [200, 200]
    assert probe_seconds < 1.0  # answered, not queued behind the held requests
    assert "actuator_overload_limit 2.0" in metrics
    assert 'actuator_overload_refused_requests_total{reason="limit"} 6.0' in metrics
    assert 'outcome="CLIENT_ERROR",status="429"' in metrics  # the HTTP metrics count them
    assert overload["status"] == "UP"
    assert overload["details"]["refused"]["limit"] == 6


async def test_a_client_that_retries_after_a_429_gets_served(server: UvicornProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        held = [
            asyncio.ensure_future(http.get("/slow", params={"seconds": "1.0"})) for _ in range(2)
        ]
        await asyncio.sleep(0.4)
        response = await request(
            http,
            "GET",
            "/slow",
            params={"seconds": "0.01"},
            deadline=5.0,
            policy=RetryPolicy(attempts=3),
        )
        await asyncio.gather(*held)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-Request-Timeout", "soon"),
        ("Request-Timeout", "-1"),
        ("grpc-timeout", "5"),
    ],
)
def test_malformed_deadline_headers_are_a_400_naming_the_header(
    server: UvicornProcess, header: str, value: str
) -> None:
    answer = httpx.get(f"{server.url}/slow", params={"seconds": "0"}, headers={header: value})
    assert answer.status_code == 400
    assert header.lower() in answer.json()["message"]


def test_a_well_formed_deadline_that_can_be_met_is_served(server: UvicornProcess) -> None:
    # Refusing deadlines the queue cannot meet: tests/overload/test_limiter.py.
    answer = httpx.get(
        f"{server.url}/slow", params={"seconds": "0"}, headers={"grpc-timeout": "2S"}
    )
    assert answer.status_code == 200
