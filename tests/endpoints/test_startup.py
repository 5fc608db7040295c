from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from actuator import Health
from actuator.endpoints._iso import parse_instant
from tests.support.asgi import Lifespan
from tests.support.management import make_actuator, serve

ISO_DURATION = re.compile(r"PT\d+(\.\d+)?S\Z")


def by_name(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in body["timeline"]["events"]:
        found.setdefault(event["startupStep"]["name"], []).append(event)
    return found


async def test_the_lifespan_startup_is_a_timeline_of_steps_in_springs_shape() -> None:
    actuator = make_actuator()

    @actuator.indicator("database")
    async def database() -> Health:
        await asyncio.sleep(0.01)
        return Health.up()

    class App:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            assert scope["type"] == "lifespan"
            await receive()
            with (
                actuator.startup_step("db.migrate", database="orders"),
                actuator.startup_step("db.migrate.table", table="orders"),
            ):
                await asyncio.sleep(0.02)
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})

    app = actuator.wrap(App())
    lifespan = Lifespan(app)
    await lifespan.startup()
    try:
        for _ in range(100):  # the first health check runs in the background
            if (
                actuator.startup_timeline.describe()["timeline"]["events"][-1]["startupStep"][
                    "name"
                ]
                == "actuator.health.first-check"
            ):
                break
            await asyncio.sleep(0.01)
        async with serve(actuator, app) as http:
            body = (await http.get("/actuator/startup")).json()
    finally:
        await lifespan.shutdown()

    steps = by_name(body)
    assert list(steps)[:2] == ["application.import", "asgi.server.start"]
    lifespan_step = steps["asgi.lifespan.startup"][0]["startupStep"]
    migrate = steps["db.migrate"][0]
    table = steps["db.migrate.table"][0]
    assert migrate["startupStep"]["parentId"] == lifespan_step["id"]
    assert migrate["startupStep"]["tags"] == [{"key": "database", "value": "orders"}]
    assert table["startupStep"]["parentId"] == migrate["startupStep"]["id"]
    assert parse_instant(migrate["startTime"]) <= parse_instant(table["startTime"])
    assert lifespan_step["parentId"] is None
    assert ISO_DURATION.match(migrate["duration"])
    assert float(migrate["duration"][2:-1]) >= 0.02
    first_check = steps["actuator.health.first-check"][0]["startupStep"]
    indicators = {
        tuple((t["key"], t["value"]) for t in e["startupStep"]["tags"])
        for e in steps["actuator.health.indicator"]
    }
    assert (("name", "database"), ("status", "UP")) in indicators
    assert all(
        e["startupStep"]["parentId"] == first_check["id"]
        for e in steps["actuator.health.indicator"]
    )
    ids = [e["startupStep"]["id"] for e in body["timeline"]["events"]]
    assert len(ids) == len(set(ids))
    assert parse_instant(body["timeline"]["startTime"]) <= parse_instant(
        steps["application.import"][0]["endTime"]
    )


async def test_without_a_lifespan_the_server_start_ends_at_the_first_request() -> None:
    actuator = make_actuator(startup={"first_health_check": False})
    async with serve(actuator) as http:
        body = (await http.get("/actuator/startup")).json()
    steps = by_name(body)
    assert "asgi.lifespan.startup" not in steps
    assert steps["asgi.server.start"][0]["startupStep"]["tags"] == [
        {"key": "lifespan", "value": "none"}
    ]
    assert "actuator.health.first-check" not in steps


async def test_post_drains_the_recorded_steps() -> None:
    actuator = make_actuator(startup={"first_health_check": False})
    async with serve(actuator) as http:
        drained = (await http.post("/actuator/startup")).json()
        after = (await http.get("/actuator/startup")).json()
    assert drained["timeline"]["events"]
    assert after["timeline"]["events"] == []
    assert after["timeline"]["startTime"] == drained["timeline"]["startTime"]


async def test_a_step_needs_a_name_and_bad_paths_are_404() -> None:
    actuator = make_actuator()
    with pytest.raises(ValueError, match="non-empty name"), actuator.startup_step(""):
        pass
    async with serve(actuator) as http:
        answer = await http.get("/actuator/startup/steps")
    assert answer.status_code == 404
