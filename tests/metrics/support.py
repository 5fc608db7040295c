"""Helpers for metrics tests: read series from an actuator's registry, drive apps over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.types import ASGIApp

from actuator import Actuator

COUNT = "http_server_requests_seconds_count"
SUM = "http_server_requests_seconds_sum"


def series(actuator: Actuator, name: str = COUNT) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample called ``name``: its sorted labels -> value."""
    found = {}
    for metric in actuator.metrics.scrape_registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def counts_by(actuator: Actuator, label: str = "uri", name: str = COUNT) -> dict[str, float]:
    """Request counts added up by one label (``uri`` by default)."""
    totals: dict[str, float] = {}
    for labels, value in series(actuator, name).items():
        key = dict(labels)[label]
        totals[key] = totals.get(key, 0.0) + value
    return totals


def only_series(actuator: Actuator, name: str = COUNT) -> dict[str, Any]:
    """The labels of the one series called ``name`` (fails if there are more or none)."""
    found = series(actuator, name)
    assert len(found) == 1, found
    return dict(next(iter(found)))


def client(
    app: ASGIApp, *, root_path: str = "", raise_app_exceptions: bool = True
) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(
        app=app, root_path=root_path, raise_app_exceptions=raise_app_exceptions
    )
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")
