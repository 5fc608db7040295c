"""``POST /actuator/shutdown`` under a real ``uvicorn --workers 2``."""

from __future__ import annotations

import json

import httpx
import pytest

from actuator import generate_token, hash_token
from tests.support.server import UvicornProcess, gone, poll

TOKEN = generate_token()


def _server(signal_parent: bool) -> UvicornProcess:
    return UvicornProcess(
        "tests.e2e.apps:app",
        args=["--workers", "2"],
        env={
            "ACTUATOR_EXPOSURE__INCLUDE": '["health", "shutdown"]',
            "ACTUATOR_ACCESS__ENDPOINTS": '{"shutdown": "unrestricted"}',
            "ACTUATOR_SHUTDOWN__ENABLED": "true",
            "ACTUATOR_SHUTDOWN__MAX_JITTER": "0",
            "ACTUATOR_SHUTDOWN__SIGNAL_PARENT": json.dumps(signal_parent),
            "ACTUATOR_SECURITY__TOKENS": json.dumps({"sre.alice": hash_token(TOKEN)}),
            "ACTUATOR_SECURITY__ROLES__FULL": '["sre\\\\..*"]',
        },
    )


def _started(server: UvicornProcess) -> UvicornProcess:
    # The parent prints the port before the workers listen: wait for both.
    poll(lambda: server.output.count("Application startup complete") >= 2 or None, timeout=30)
    return server


def _shutdown(server: UvicornProcess) -> httpx.Response:
    return httpx.post(
        server.url + "/actuator/shutdown", timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}
    )


# The uvicorn case of tests/e2e/test_servers_workers.py's shutdown matrix.
@pytest.mark.compat(
    "server", "uvicorn", "shutdown with workers stops", result="the worker; replaced"
)
def test_shutdown_of_one_worker_says_the_supervisor_replaces_it() -> None:
    with _server(signal_parent=False) as server:
        _started(server)
        assert server.process is not None
        supervisor = server.process.pid
        answer = _shutdown(server)
        assert answer.status_code == 202
        plan = answer.json()
        worker = plan["process"]["pid"]
        assert plan["stops"] == "worker"
        assert plan["process"]["supervisor"] == supervisor
        assert worker != supervisor
        assert f"worker process {worker} only" in plan["message"]
        assert "starts a replacement" in plan["message"]
        assert "shutdown.signal_parent" in plan["message"]
        poll(lambda: gone(worker), timeout=20)
        poll(lambda: f"Child process [{worker}] died" in server.output or None, timeout=20)
        # The service keeps running on the other worker and the replacement.
        assert server.process.poll() is None
        for _ in range(4):
            assert httpx.get(server.url + "/actuator/health", timeout=5).status_code == 200


def test_signal_parent_stops_the_whole_server_from_any_worker() -> None:
    with _server(signal_parent=True) as server:
        _started(server)
        assert server.process is not None
        answer = _shutdown(server)
        assert answer.status_code == 202
        plan = answer.json()
        assert plan["stops"] == "server"
        assert plan["process"]["supervisor"] == server.process.pid
        assert "Shutting down the whole server" in plan["message"]
        assert server.wait(timeout=30) == 0
        assert "Received SIGTERM, exiting." in server.output
