"""Several uvicorn workers, one scrape: prometheus-client's multiprocess mode end to end."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import UvicornProcess

REQUESTS = 200


async def hit(url: str, requests: int, concurrency: int) -> set[int]:
    pids: set[int] = set()
    limit = asyncio.Semaphore(concurrency)

    # A fresh connection per request, so the kernel hands them to either worker.
    no_keep_alive = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=10, limits=no_keep_alive) as http:

        async def one() -> None:
            async with limit:
                response = await http.get(url)
                response.raise_for_status()
                pids.add(response.json()["pid"])

        await asyncio.gather(*(one() for _ in range(requests)))
    return pids


def test_one_scrape_counts_the_requests_of_every_worker(tmp_path: Path) -> None:
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "ACTUATOR_SECURITY__ANONYMOUS": "health,prometheus",
    }
    with UvicornProcess("tests.e2e.metrics_app:app", args=["--workers", "2"], env=env) as app:
        # The parent prints the port before the workers listen: wait for both.
        deadline = time.monotonic() + 30
        while app.output.count("Application startup complete") < 2:
            assert time.monotonic() < deadline, app.output
            time.sleep(0.1)
        pids = asyncio.run(hit(f"{app.url}/api/work", REQUESTS, concurrency=8))
        scrape = httpx.get(f"{app.url}/actuator/prometheus", timeout=10)
    assert scrape.status_code == 200, scrape.text
    families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
    counts = [
        s.value
        for s in families["http_server_requests_seconds"].samples
        if s.name.endswith("_count") and s.labels["uri"] == "/api/work"
    ]
    assert counts == [float(REQUESTS)]
    assert len(pids) == 2, f"one worker served everything: {pids}"
    in_flight = families["http_server_requests_active"].samples  # livesum over workers
    assert [(s.labels, s.value) for s in in_flight] == [({"method": "GET"}, 0.0)]
    assert "actuator_health_status" in families
    assert "process_cpu_seconds" not in families  # per-process series are not merged
