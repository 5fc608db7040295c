"""The SIGTERM drain against a real uvicorn process."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx

from tests.support.server import UvicornProcess, poll

# uvicorn re-raises the signal it caught once its graceful shutdown is done,
# with the default action restored: the process dies by SIGTERM (143 in a shell).
KILLED_BY_SIGTERM = -signal.SIGTERM


def _server(marker: Path, drain_period: float, *args: str) -> UvicornProcess:
    return UvicornProcess(
        "tests.e2e.apps:app",
        args=args,
        env={
            "ACTUATOR_DRAIN_PERIOD": str(drain_period),
            "ACTUATOR_HEALTH__SHOW_DETAILS": "always",
            "E2E_MARKER": str(marker),
        },
    )


def _get(server: UvicornProcess, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=5)


def _out_of_service(server: UvicornProcess) -> httpx.Response | None:
    answer = _get(server, "/actuator/health/readiness")
    return answer if answer.status_code == 503 else None


def test_sigterm_refuses_traffic_at_once_keeps_serving_then_shuts_down(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    with _server(marker, 2.5) as server:
        assert _get(server, "/sigterm-handler").json() == {"handler": "SignalDrain._handle"}
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)
        readiness = poll(lambda: _out_of_service(server), timeout=5)
        # Still serving: the app, and liveness (a drain is no reason to restart).
        hello = _get(server, "/hello")
        liveness = _get(server, "/actuator/health/liveness")
        code = server.wait(timeout=15)
        stopped = time.monotonic()
    assert readiness.json() == {
        "status": "OUT_OF_SERVICE",
        "components": {
            "readinessState": {
                "status": "OUT_OF_SERVICE",
                "details": {
                    "state": "REFUSING_TRAFFIC",
                    "reasons": {"drain": "draining after SIGTERM"},
                },
            }
        },
    }
    assert (hello.status_code, hello.text) == (200, "hello")
    assert (liveness.status_code, liveness.json()["status"]) == (200, "UP")
    assert stopped - signalled >= 2.5  # only a lower bound: load makes it longer, never shorter
    assert code == KILLED_BY_SIGTERM
    assert marker.read_text().split() == ["startup", "shutdown"]
    assert "Application shutdown complete." in server.output


def test_second_sigterm_during_the_drain_stops_at_once(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    with _server(marker, 60) as server:
        server.signal(signal.SIGTERM)
        poll(lambda: _out_of_service(server), timeout=5)
        server.signal(signal.SIGTERM)
        code = server.wait(timeout=15)  # far less than the 60 s drain
    assert code == KILLED_BY_SIGTERM
    assert marker.read_text().split() == ["startup", "shutdown"]
    assert "SIGTERM again during the drain: stopping now" in server.output


def test_without_a_drain_period_sigterm_stops_uvicorn_as_usual(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    with _server(marker, 0) as server:
        handler = _get(server, "/sigterm-handler").json()
        server.signal(signal.SIGTERM)
        code = server.wait(timeout=15)
    assert handler == {"handler": "Server.handle_exit"}  # uvicorn's own, untouched
    assert code == KILLED_BY_SIGTERM
    assert marker.read_text().split() == ["startup", "shutdown"]
    assert "draining" not in server.output


def test_drain_works_when_the_server_runs_without_lifespan(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    with _server(marker, 2, "--lifespan", "off") as server:
        # The first request starts the actuator, and with it the drain.
        assert _get(server, "/actuator/health/readiness").status_code == 200
        server.signal(signal.SIGTERM)
        readiness = poll(lambda: _out_of_service(server), timeout=5)
        hello = _get(server, "/hello")
        code = server.wait(timeout=15)
    assert readiness.json()["components"]["readinessState"]["details"]["reasons"] == {
        "drain": "draining after SIGTERM"
    }
    assert hello.text == "hello"
    assert code == KILLED_BY_SIGTERM
    assert not marker.exists()


def test_stop_server_shuts_uvicorn_down_gracefully_with_exit_code_zero(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    with _server(marker, 30) as server:
        answer = httpx.post(server.url + "/stop", timeout=5)
        code = server.wait(timeout=15)  # stop_server skips the 30 s drain
    assert answer.text == "stopping"
    assert code == 0
    assert marker.read_text().split() == ["startup", "shutdown"]


def test_with_workers_every_worker_drains_and_the_supervisor_exits_zero(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    with _server(marker, 2, "--workers", "2") as server:
        poll(lambda: (marker.exists() and marker.read_text().count("startup") == 2) or None)
        signalled = time.monotonic()
        server.signal(signal.SIGTERM)  # to the supervisor, which passes it to each worker
        poll(lambda: _out_of_service(server), timeout=5)
        hello = _get(server, "/hello")
        code = server.wait(timeout=20)
        stopped = time.monotonic()
    assert hello.text == "hello"
    assert stopped - signalled >= 2
    assert code == 0
    assert server.output.count("SIGTERM received: readiness OUT_OF_SERVICE") == 2
    assert sorted(marker.read_text().split()) == ["shutdown"] * 2 + ["startup"] * 2
