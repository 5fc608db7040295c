from __future__ import annotations

import httpx

from tests.support.server import UvicornProcess


def test_real_uvicorn_serves_readiness_and_the_app() -> None:
    with UvicornProcess("tests.e2e.apps:app") as server:
        ready = httpx.get(server.url + "/actuator/health/readiness", timeout=5)
        hello = httpx.get(server.url + "/hello", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"status": "UP"}
    assert hello.text == "hello"
