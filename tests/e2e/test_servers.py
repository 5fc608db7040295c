"""The lifecycle promises on every server of the matrix: uvicorn, gunicorn with the
uvicorn worker, hypercorn and granian, each a real process on a free port.

Each test that proves a feature on a server carries the ``compat`` marker the
compatibility table in docs/servers-and-frameworks.md is built from. Drain
periods and slow requests are kept to a second or two, so the matrix stays fast.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.servers import compat, serve
from tests.support.server import UvicornProcess, free_port, poll

APP = "tests.e2e.apps:app"


def _get(url: str, timeout: float = 5) -> httpx.Response:
    return httpx.get(url, timeout=timeout)


class InFlight(threading.Thread):
    """A request sent now, whose answer (or error) is collected later."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            self.response = _get(self.url, timeout=30)
        except Exception as exc:
            self.error = exc

    def result(self) -> httpx.Response:
        self.join(timeout=30)
        if self.response is None:
            raise AssertionError(f"the request in flight failed: {self.error!r}")
        return self.response


# -- startup -------------------------------------------------------------------------


@pytest.mark.parametrize("name", compat("readiness during startup"))
def test_readiness_is_init_until_the_lifespan_startup_completes_then_up(
    name: str, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    management = free_port()
    probe = f"http://127.0.0.1:{management}/actuator/health/readiness"
    seen: list[httpx.Response] = []

    def watch_then_release() -> None:
        # The management port listens before the app's startup code runs.
        seen.append(poll(lambda: _get(probe, timeout=2), timeout=60))
        release.touch()

    watcher = threading.Thread(target=watch_then_release, daemon=True)
    watcher.start()
    env = {
        "E2E_RELEASE": str(release),
        "ACTUATOR_MANAGEMENT_SERVER__ENABLED": "true",
        "ACTUATOR_MANAGEMENT_SERVER__PORT": str(management),
    }
    with serve(name, APP, env=env) as server:
        watcher.join(timeout=10)
        ready = _get(probe)
        hello = _get(server.url + "/hello")
    assert [(a.status_code, a.json()) for a in seen] == [(503, {"status": "INIT"})]
    assert (ready.status_code, ready.json()) == (200, {"status": "UP"})
    assert hello.text == "hello"


# Each server reports a failed lifespan startup its own way; none serves. hypercorn
# logs the error and stops, but with exit status 0 (a Kubernetes Job would count
# it a success; a Deployment restarts it as any other exit).
FAILED_STARTUP_EXIT = {"uvicorn": 3, "gunicorn": 3, "hypercorn": 0, "granian": 1}
FAILED_STARTUP = {
    "uvicorn": "exit 3",
    "gunicorn": "exit 3",
    "hypercorn": "stops, but exit 0",
    "granian": "exit 1",
}


@pytest.mark.parametrize("name", compat("failed startup", FAILED_STARTUP))
def test_failed_lifespan_startup_stops_the_server_with_its_reason(name: str) -> None:
    server = serve(name, "tests.e2e.apps:failing_app", startup_timeout=60)
    with pytest.raises(RuntimeError, match="exited during startup"):
        server.start()
    assert server.wait(timeout=30) == FAILED_STARTUP_EXIT[name]
    assert "database unreachable" in server.output


# -- drain on SIGTERM ----------------------------------------------------------------

DRAIN = 3.0  # room for a probe and two requests within the drain on a loaded machine
# How each server ends once drained: uvicorn re-raises the SIGTERM it caught.
DRAIN_EXIT = {"uvicorn": -signal.SIGTERM, "gunicorn": 0, "hypercorn": 0, "granian": 0}
# hypercorn's workers hear no signal (their parent sets a shared stop event), so
# the drain works where hypercorn runs the app in its own process: --workers 0.
DRAIN_WORKERS = {"uvicorn": 1, "gunicorn": 1, "hypercorn": 0, "granian": 1}
HYPERCORN_DRAIN = "with --workers 0 (else a preStop sleep)"


def _out_of_service(server: UvicornProcess) -> httpx.Response | None:
    answer = _get(server.url + "/actuator/health/readiness")
    return answer if answer.status_code == 503 else None


def _drain_env(tmp_path: Path) -> dict[str, str]:
    return {
        "ACTUATOR_DRAIN_PERIOD": str(DRAIN),
        "ACTUATOR_HEALTH__SHOW_DETAILS": "always",
        "E2E_MARKER": str(tmp_path / "lifespan"),
        "E2E_SLOW": str(tmp_path / "slow"),
    }


def _slow_started(tmp_path: Path) -> bool | None:
    slow = tmp_path / "slow"
    return (slow.exists() and slow.read_text() != "") or None


# Each server on asyncio's own event loop and on uvloop, which uvicorn, gunicorn's
# uvicorn worker and granian pick by default where it is installed (loop "auto").
# gunicorn's asyncio case is uvicorn-worker's other class (its HTTP parser is h11).
LOOPS: dict[str, dict[str, list[str]]] = {
    "uvicorn": {"asyncio": ["--loop", "asyncio"], "uvloop": ["--loop", "uvloop"]},
    "gunicorn": {
        "asyncio": ["--worker-class", "uvicorn_worker.UvicornH11Worker"],  # the last one wins
        "uvloop": [],
    },
    "hypercorn": {"asyncio": [], "uvloop": ["--worker-class", "uvloop"]},
    "granian": {"asyncio": ["--loop", "asyncio"], "uvloop": ["--loop", "uvloop"]},
}


def _drain_feature(loop: str) -> str:
    return f"drain on SIGTERM ({loop})"


def _drain_cases() -> list[Any]:
    return [
        pytest.param(
            name,
            loop,
            marks=pytest.mark.compat(
                "server",
                name,
                _drain_feature(loop),
                result=HYPERCORN_DRAIN if name == "hypercorn" else "yes",
            ),
            id=f"{name}-{loop}",
        )
        for loop in ("asyncio", "uvloop")
        for name in LOOPS
    ]


@pytest.mark.parametrize(("name", "loop"), _drain_cases())
def test_sigterm_refuses_traffic_keeps_serving_finishes_requests_then_exits(
    name: str, loop: str, tmp_path: Path
) -> None:
    workers, env, args = DRAIN_WORKERS[name], _drain_env(tmp_path), LOOPS[name][loop]
    with serve(name, APP, workers=workers, env=env, args=args) as server:
        in_flight = InFlight(server.url + f"/slow?seconds={DRAIN + 1}")
        poll(lambda: _slow_started(tmp_path))
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        readiness = poll(lambda: _out_of_service(server), timeout=DRAIN)
        hello = _get(server.url + "/hello")  # a new connection, during the drain
        liveness = _get(server.url + "/actuator/health/liveness")
        code = server.wait(timeout=30)
        stopped = time.monotonic()
    reasons = readiness.json()["components"]["readinessState"]["details"]["reasons"]
    assert reasons == {"drain": "draining after SIGTERM"}
    assert (hello.status_code, hello.text) == (200, "hello")
    assert liveness.json()["status"] == "UP"
    assert in_flight.result().status_code == 200
    assert stopped - signalled >= DRAIN
    assert code == DRAIN_EXIT[name]
    assert (tmp_path / "lifespan").read_text().split() == ["startup", "shutdown"]


@pytest.mark.compat("server", "hypercorn", _drain_feature("asyncio"), result=HYPERCORN_DRAIN)
@pytest.mark.compat("server", "hypercorn", _drain_feature("uvloop"), result=HYPERCORN_DRAIN)
def test_hypercorn_workers_stop_accepting_at_once_without_a_drain(tmp_path: Path) -> None:
    with serve("hypercorn", APP, workers=1, env=_drain_env(tmp_path)) as server:
        in_flight = InFlight(server.url + "/slow?seconds=2")
        poll(lambda: _slow_started(tmp_path))
        server.signal(signal.SIGTERM)
        # No readiness OUT_OF_SERVICE: the port closes within hypercorn's 0.1 s poll.
        refused = poll(lambda: _refused(server.url + "/hello"), timeout=DRAIN)
        code = server.wait(timeout=30)
    assert refused
    assert in_flight.result().status_code == 200  # in-flight requests still complete
    # The worker never heard SIGTERM, so no drain started (with --workers 0 it logs this).
    assert "SIGTERM received: readiness OUT_OF_SERVICE" not in server.output
    assert code == 0
    assert (tmp_path / "lifespan").read_text().split() == ["startup", "shutdown"]


def _refused(url: str) -> bool | None:
    try:
        _get(url, timeout=1)
    except httpx.TransportError:
        return True
    return None
