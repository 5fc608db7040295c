"""Startup against a real uvicorn: readiness follows the lifespan the server runs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.server import UvicornProcess

PROBES = ("liveness", "readiness", "startup")


def _probe(server: UvicornProcess, name: str) -> httpx.Response:
    return httpx.get(f"{server.url}/actuator/health/{name}", timeout=5)


def test_lifespan_app_is_live_ready_and_started_once_uvicorn_is_up() -> None:
    # UvicornProcess returns once uvicorn prints "running", after lifespan startup.
    with UvicornProcess("tests.e2e.apps:app") as server:
        answers = {name: _probe(server, name) for name in PROBES}
        hello = httpx.get(server.url + "/hello", timeout=5)
    for name, answer in answers.items():
        assert (name, answer.status_code, answer.json()) == (name, 200, {"status": "UP"})
        assert answer.headers["cache-control"] == "no-store"
    assert hello.text == "hello"


@pytest.mark.parametrize("lifespan", ["on", "auto"])
def test_failing_lifespan_startup_makes_uvicorn_exit_non_zero(lifespan: str) -> None:
    server = UvicornProcess("tests.e2e.apps:failing_app", args=["--lifespan", lifespan])
    with pytest.raises(RuntimeError, match="exited during startup"):
        server.start()
    assert server.wait(timeout=20) == 3  # uvicorn's STARTUP_FAILURE
    assert "RuntimeError: database unreachable" in server.output
    assert "Application startup failed. Exiting." in server.output


def test_with_lifespan_off_the_app_is_ready_from_the_first_request(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan"
    with UvicornProcess(
        "tests.e2e.apps:app", args=["--lifespan", "off"], env={"E2E_MARKER": str(marker)}
    ) as server:
        first = _probe(server, "readiness")
        startup = _probe(server, "startup")
    assert (first.status_code, first.json()) == (200, {"status": "UP"})
    assert (startup.status_code, startup.json()) == (200, {"status": "UP"})
    assert not marker.exists()  # the app's lifespan never ran


@pytest.mark.parametrize("lifespan", ["on", "auto"])
@pytest.mark.parametrize("app", ["raising_bare_app", "returning_bare_app"])
def test_bare_app_without_lifespan_support_is_still_ready(app: str, lifespan: str) -> None:
    with UvicornProcess(f"tests.e2e.apps:{app}", args=["--lifespan", lifespan]) as server:
        ready = _probe(server, "readiness")
        hello = httpx.get(server.url + "/", timeout=5)
        code = server.stop()
    assert (ready.status_code, ready.json()) == (200, {"status": "UP"})
    assert hello.text == "hello"
    assert code == 0
    assert "Application shutdown complete." in server.output
