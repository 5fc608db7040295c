"""Several workers on every server of the matrix: metrics, management port, pause, shutdown.

``uvicorn --workers 2``, ``gunicorn -k uvicorn_worker.UvicornWorker -w 2``,
``hypercorn --workers 2`` and ``granian --workers 2``, each a real process
tree. Each worker is a process of its own: what a request, a scrape, a pause
or a shutdown reaches, and what adds up across them, is what these tests pin
down (and what the compatibility table of docs/servers-and-frameworks.md
shows). One server per name serves the tests that leave it running; the
shutdown tests start their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.servers import compat, serve, wait_for_workers
from tests.support.server import UvicornProcess, free_port, gone, poll

APP = "tests.e2e.apps:app"
WORKERS = 2
# Anyone may pause and resume: who may is tests/security's business.
OPEN_ACTUATOR = {
    "ACTUATOR_EXPOSURE__INCLUDE": '["health", "info", "prometheus", "pause", "resume"]',
    "ACTUATOR_ACCESS__ENDPOINTS": '{"pause": "unrestricted", "resume": "unrestricted"}',
    "ACTUATOR_SECURITY__ANONYMOUS": "*",
    "ACTUATOR_SECURITY__WRITE_ROLES": '{"*": "anonymous"}',
}


@dataclass
class Workers:
    """A server running ``WORKERS`` workers, with the management port and shared metrics."""

    name: str
    server: UvicornProcess
    management: str
    """The management port's base URL: every worker serves it."""
    metrics_dir: Path

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workers]:
    name: str = request.param
    metrics_dir = tmp_path_factory.mktemp(f"{name}-metrics")
    port = free_port()
    env = {
        **OPEN_ACTUATOR,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "ACTUATOR_MANAGEMENT_SERVER__ENABLED": "true",
        "ACTUATOR_MANAGEMENT_SERVER__PORT": str(port),
    }
    with serve(name, APP, workers=WORKERS, env=env) as server:
        wait_for_workers(server, WORKERS)
        yield Workers(name, server, f"http://127.0.0.1:{port}", metrics_dir)


async def _fan_out(url: str, requests: int, concurrency: int = 8) -> list[httpx.Response]:
    """``requests`` GETs, ``concurrency`` at a time, each on a fresh connection (so the
    kernel hands them to any worker)."""
    limit = asyncio.Semaphore(concurrency)
    no_keep_alive = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=10, limits=no_keep_alive) as http:

        async def one() -> httpx.Response:
            async with limit:
                return await http.get(url)

        return list(await asyncio.gather(*(one() for _ in range(requests))))


def _pids(answers: list[httpx.Response]) -> set[int]:
    return {answer.json()["pid"] for answer in answers if answer.status_code == 200}


def _every_worker(url: str, key: str = "pid", rounds: int = 10) -> set[int]:
    """The pids behind ``url`` once both workers have answered (fresh connections)."""

    def both() -> set[int] | None:
        seen: set[int] = set()
        for _ in range(rounds):
            answers = asyncio.run(_fan_out(url, 8, concurrency=4))
            seen |= {_pid_in(answer.json(), key) for answer in answers}
            if len(seen) >= WORKERS:
                return seen
        return None

    return poll(both, timeout=30)


def _pid_in(body: Any, key: str) -> int:
    """The pid at dotted ``key`` in a JSON answer (``process.pid`` in ``/actuator/info``)."""
    for part in key.split("."):
        body = body[part]
    return int(body)


Samples = dict[str, list[tuple[str, dict[str, str], float]]]
"""A scrape: family name -> its samples (sample name, labels, value)."""


def _scrape(base: str) -> Samples:
    answer = httpx.get(f"{base}/actuator/prometheus", timeout=10)
    assert answer.status_code == 200, answer.text
    return {
        family.name: [(s.name, dict(s.labels), s.value) for s in family.samples]
        for family in text_string_to_metric_families(answer.text)
    }


def _count(samples: Samples, uri: str) -> float:
    """The number of requests to ``uri`` the scrape reports."""
    return sum(
        value
        for name, labels, value in samples["http_server_requests_seconds"]
        if name.endswith("_count") and labels.get("uri") == uri
    )


def _in_flight(samples: Samples) -> set[float]:
    return {value for _, _, value in samples["http_server_requests_active"]}


# -- metrics -------------------------------------------------------------------------

REQUESTS = 120


@pytest.mark.parametrize("workers", compat("multi-worker metrics add up"), indirect=True)
def test_requests_spread_over_the_workers_add_up_to_exactly_their_number_in_one_scrape(
    workers: Workers,
) -> None:
    answers = asyncio.run(_fan_out(workers.url + "/work", REQUESTS))
    assert [a.status_code for a in answers] == [200] * REQUESTS
    assert len(_pids(answers)) == WORKERS, "one worker served everything"
    # Every worker answers the scrape with the sum of all: ask each of them.
    scrapes = [_scrape(workers.management) for _ in range(4)]
    counts = {_count(samples, "/work") for samples in scrapes}
    assert counts == {float(REQUESTS)}  # none lost, none counted twice
    assert _in_flight(scrapes[0]) == {0.0}


# -- management port -----------------------------------------------------------------


@pytest.mark.parametrize(
    "workers", compat("management port: one per worker, shared"), indirect=True
)
def test_every_worker_serves_the_management_port_without_a_clash(workers: Workers) -> None:
    app_workers = _every_worker(workers.url + "/pid")
    management_workers = _every_worker(workers.management + "/actuator/info", "process.pid")
    assert management_workers == app_workers
    assert len(app_workers) == WORKERS
    assert "cannot listen" not in workers.server.output
    assert workers.server.process is not None
    assert workers.server.process.poll() is None


# -- pause ---------------------------------------------------------------------------


@pytest.mark.parametrize("workers", compat("pause: the worker that answers"), indirect=True)
def test_pause_stops_the_worker_that_answered_and_says_the_others_keep_serving(
    workers: Workers,
) -> None:
    answer = httpx.post(workers.management + "/actuator/pause", timeout=10)
    assert answer.status_code == 200, answer.text
    paused = answer.json()
    pid = paused["process"]["pid"]
    assert paused["paused"] is True
    assert paused["process"]["server"] == workers.name
    assert paused["process"]["supervisor"] == workers.server.process.pid  # type: ignore[union-attr]
    assert f"applies to worker process {pid} only" in paused["message"]
    try:

        def both_seen() -> list[httpx.Response] | None:
            answers = asyncio.run(_fan_out(workers.url + "/pid", 16))
            codes = {a.status_code for a in answers}
            return answers if codes == {200, 503} else None

        answers = poll(both_seen, timeout=30)
        # The paused worker refuses (before the app runs); the other one serves.
        assert pid not in _pids(answers)
    finally:
        _resume(workers, pid)


def _resume(workers: Workers, pid: int) -> None:
    """Resume worker ``pid``: ask until that worker is the one that answers."""

    def resumed() -> bool | None:
        answer = httpx.post(workers.management + "/actuator/resume", timeout=10)
        return True if answer.json()["process"]["pid"] == pid else None

    poll(resumed, timeout=30)


# -- shutdown ------------------------------------------------------------------------

# What POST /actuator/shutdown stops in a worker of several, by default.
SHUTDOWN = {
    "uvicorn": "the worker; replaced",
    "gunicorn": "the worker; replaced",
    "hypercorn": "the whole server",
    "granian": "the whole server",
}
SHUTDOWN_ENV = {
    "ACTUATOR_EXPOSURE__INCLUDE": '["health", "shutdown"]',
    "ACTUATOR_ACCESS__ENDPOINTS": '{"shutdown": "unrestricted"}',
    "ACTUATOR_SECURITY__WRITE_ROLES": '{"shutdown": "anonymous"}',
    "ACTUATOR_SHUTDOWN__ENABLED": "true",
    "ACTUATOR_SHUTDOWN__MAX_JITTER": "0",
}


# uvicorn's case is tests/e2e/test_shutdown_workers.py.
@pytest.mark.parametrize(
    "name", compat("shutdown with workers stops", SHUTDOWN, ("gunicorn", "hypercorn", "granian"))
)
def test_shutdown_in_a_worker_stops_what_its_answer_says(name: str) -> None:
    with serve(name, APP, workers=WORKERS, env=SHUTDOWN_ENV) as server:
        wait_for_workers(server, WORKERS)
        assert server.process is not None
        answer = httpx.post(server.url + "/actuator/shutdown", timeout=10)
        assert answer.status_code == 202, answer.text
        plan = answer.json()
        worker = plan["process"]["pid"]
        assert plan["process"]["supervisor"] == server.process.pid
        assert plan["process"]["server"] == name
        if SHUTDOWN[name] == "the whole server":
            assert plan["stops"] == "server"
            assert "Shutting down the whole server" in plan["message"]
            assert "stop every worker (" in plan["message"]  # and why
            assert server.wait(timeout=30) == 0
        else:
            assert plan["stops"] == "worker"
            assert f"worker process {worker} only" in plan["message"]
            poll(lambda: gone(worker), timeout=20)
            # The other worker and the replacement serve; the server keeps running.
            wait_for_workers(server, WORKERS + 1)
            served = _pids(asyncio.run(_fan_out(server.url + "/pid", 16)))
            assert served
            assert worker not in served
            assert server.process.poll() is None


# -- gunicorn --max-requests ---------------------------------------------------------

MAX_REQUESTS = 10
RECYCLED_REQUESTS = 25  # more than the 2 workers x 10 serve before the first recycle


@pytest.mark.compat("server", "gunicorn", "recycled workers: no stale gauge, no lost count")
def test_gunicorn_max_requests_recycling_loses_no_count_and_leaves_no_live_gauge(
    tmp_path: Path,
) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    config = tmp_path / "gunicorn.conf.py"
    config.write_text("from actuator.servers.gunicorn import child_exit  # noqa: F401\n")
    env = {**OPEN_ACTUATOR, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    args = ["-c", str(config), "--max-requests", str(MAX_REQUESTS), "--max-requests-jitter", "0"]
    with serve("gunicorn", APP, workers=WORKERS, env=env, args=args) as server:
        wait_for_workers(server, WORKERS)
        pids = set()
        for _ in range(RECYCLED_REQUESTS):  # one at a time: a recycled worker finishes its last
            answer = httpx.get(server.url + "/work", timeout=10)
            assert answer.status_code == 200, answer.text
            pids.add(answer.json()["pid"])
        assert len(pids) > WORKERS, "no worker was recycled"
        recycled = poll(lambda: {pid for pid in pids if gone(pid)} or None, timeout=20)
        # The hook removed their live gauges as gunicorn reaped them, before any scrape.
        poll(lambda: None if _live_gauge_pids(metrics_dir) & recycled else True, timeout=10)
        samples = _scrape(server.url)
    assert _count(samples, "/work") == RECYCLED_REQUESTS
    assert _in_flight(samples) == {0.0}


def _live_gauge_pids(metrics_dir: Path) -> set[int]:
    return {int(f.stem.rpartition("_")[2]) for f in metrics_dir.glob("gauge_live*_*.db")}
