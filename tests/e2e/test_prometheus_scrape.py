"""A real Prometheus scrapes a real uvicorn serving the app: the whole path, end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from actuator import generate_token, hash_token
from tests.support.prometheus import PrometheusServer
from tests.support.server import UvicornProcess


def wait_for(probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_prometheus_scrapes_route_template_counts(tmp_path: Path) -> None:
    # Prometheus authenticates as it would in production: a bearer token whose
    # identity has the read role (anonymous callers may not read /prometheus).
    token = generate_token()
    env = {
        "ACTUATOR_SECURITY__TOKENS": json.dumps({"prometheus": hash_token(token)}),
        "ACTUATOR_SECURITY__ROLES__READ": "prometheus",
    }
    with UvicornProcess("tests.e2e.metrics_app:app", env=env) as app:
        anonymous = httpx.get(f"{app.url}/actuator/prometheus", timeout=5)
        for item_id in range(5):
            assert httpx.get(f"{app.url}/api/items/{item_id}", timeout=5).status_code == 200
        assert httpx.get(f"{app.url}/nope", timeout=5).status_code == 404
        target = app.url.removeprefix("http://")
        with PrometheusServer(tmp_path, targets=[target], bearer_token=token) as prometheus:
            up = wait_for(lambda: prometheus.query('up{job="app"} == 1'))
            counts = wait_for(
                lambda: {
                    r["metric"]["uri"]: float(r["value"][1])
                    for r in prometheus.query(
                        'sum by (uri) (http_server_requests_seconds_count{job="app"})'
                    )
                }
            )
            health = prometheus.query('actuator_health_status{job="app"}')
            info = prometheus.query('application_info{job="app"}')
            output = prometheus.output
    assert anonymous.status_code == 401
    assert up, output
    assert counts == {"/api/items/{item_id}": 5.0, "NOT_FOUND": 1.0}, output
    assert [r["metric"]["status"] for r in health] == ["UP"]
    assert info[0]["metric"]["name"] == "shop"
