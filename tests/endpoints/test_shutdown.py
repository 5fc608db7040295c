from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import httpx
import pytest

from actuator import Actuator, generate_token, hash_token
from tests.support.management import BAD_BODIES, make_actuator, serve
from tests.support.server import UvicornProcess

ENABLED = {"enabled": True, "drain_period": 0.2, "max_jitter": 0.1}


def stopper(actuator: Actuator) -> asyncio.Event:
    """Replace the server stop with an event, so the test process is not the one stopped."""
    stopped = asyncio.Event()
    actuator.shutdown_control.stop_server = stopped.set
    return stopped


async def test_shutdown_is_not_there_unless_enabled() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        posted = await http.post("/actuator/shutdown")
        features = (await http.get("/actuator/info")).json()["features"]
    assert posted.status_code == 404
    assert features["shutdown"] is False
    assert actuator.shutdown_control.plan is None


async def test_shutdown_needs_write_access_even_when_enabled() -> None:
    actuator = Actuator(settings={"exposure": {"include": ["shutdown"]}, "shutdown": ENABLED})
    stopped = stopper(actuator)
    async with serve(actuator) as http:
        posted = await http.post("/actuator/shutdown")
        readiness = actuator.availability.readiness_health()
    assert posted.status_code == 403
    assert readiness.status.code == "UP"
    assert actuator.shutdown_control.plan is None
    assert not stopped.is_set()


async def test_shutdown_answers_at_once_then_drains_and_stops(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = make_actuator(shutdown=ENABLED)
    stopped = stopper(actuator)
    with caplog.at_level(logging.WARNING, logger="actuator.audit"):
        async with serve(actuator) as http:
            posted = await http.post("/actuator/shutdown", json={"reason": "rolling restart"})
            readiness = await http.get("/actuator/health/readiness")
            app = await http.get("/hello")
            stopped_before_answer = stopped.is_set()
            state = (await http.get("/actuator/shutdown")).json()
            again = await http.post("/actuator/shutdown")
            await asyncio.wait_for(stopped.wait(), timeout=10)
    assert posted.status_code == 202
    plan = posted.json()
    assert plan["message"] == "Shutting down, bye..."
    assert plan["drainPeriod"] == 0.2
    assert 0 <= plan["jitter"] <= 0.1
    assert plan["delay"] == pytest.approx(plan["drainPeriod"] + plan["jitter"], abs=0.002)
    assert plan["reason"] == "rolling restart"
    assert not stopped_before_answer
    assert readiness.status_code == 503
    assert app.status_code == 200  # the app keeps serving while it drains
    assert state["scheduled"] is True
    assert state["at"] == plan["at"]
    assert again.json() == plan
    audits = [r for r in caplog.records if r.name == "actuator.audit"]
    assert [r.audit["action"] for r in audits] == ["shutdown"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "named"),
    [
        (b'{"delay": 0}', "application/json", 400, "delay"),
        (b'{"reason": 1}', "application/json", 400, "reason"),
        *BAD_BODIES,
    ],
)
async def test_rejected_shutdown_requests_schedule_nothing(
    body: bytes, content_type: str, status: int, named: str
) -> None:
    actuator = make_actuator(shutdown=ENABLED)
    stopped = stopper(actuator)
    async with serve(actuator) as http:
        posted = await http.post(
            "/actuator/shutdown", content=body, headers={"content-type": content_type}
        )
        state = (await http.get("/actuator/shutdown")).json()
        readiness = await http.get("/actuator/health/readiness")
    assert posted.status_code == status
    assert named in posted.json()["message"]
    assert state == {"scheduled": False}
    assert readiness.status_code == 200
    assert not stopped.is_set()


async def test_shutdown_drain_falls_back_to_the_drain_period_setting() -> None:
    actuator = Actuator(settings={"drain_period": 0.05, "shutdown": {"max_jitter": 0}})
    stopped = stopper(actuator)
    plan = actuator.request_shutdown()
    await asyncio.wait_for(stopped.wait(), timeout=10)
    assert (plan.drain_period, plan.jitter) == (0.05, 0.0)
    assert plan.by == "app"


def test_shutdown_stops_a_real_uvicorn_gracefully(tmp_path: Path) -> None:
    marker = tmp_path / "lifespan-shutdown"
    token = generate_token()
    env = {
        "ACTUATOR_EXPOSURE__INCLUDE": "health,shutdown",
        "ACTUATOR_SECURITY__TOKENS": json.dumps({"sre.alice": hash_token(token)}),
        "ACTUATOR_SECURITY__ROLES__FULL": "sre\\..*",
        "ACTUATOR_ACCESS__ENDPOINTS": '{"shutdown": "unrestricted"}',
        "ACTUATOR_SHUTDOWN__ENABLED": "true",
        "ACTUATOR_SHUTDOWN__DRAIN_PERIOD": "3",
        "ACTUATOR_SHUTDOWN__MAX_JITTER": "0.5",
        "SHUTDOWN_MARKER": str(marker),
    }
    server = UvicornProcess("tests.endpoints.shutdown_app:app", env=env).start()
    try:
        anonymous = httpx.post(server.url + "/actuator/shutdown", json={"reason": "e2e"}, timeout=5)
        posted = httpx.post(
            server.url + "/actuator/shutdown",
            json={"reason": "e2e"},
            timeout=5,
            headers={"Authorization": f"Bearer {token}"},
        )
        readiness = httpx.get(server.url + "/actuator/health/readiness", timeout=5)
        hello = httpx.get(server.url + "/hello", timeout=5)
        code = server.wait(timeout=30)
    finally:
        server.stop()
    assert anonymous.status_code == 401
    assert posted.status_code == 202
    assert 3 <= posted.json()["delay"] <= 3.5
    assert readiness.status_code == 503
    assert hello.text == "hello"
    assert code == 0, server.output
    assert marker.read_text() == "lifespan shutdown ran"
    assert "shutdown by sre.alice" in server.output
