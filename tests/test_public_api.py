"""The public names, and the issue's example code working as written."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from fastapi import FastAPI

import actuator as package
from tests.support.asgi import Lifespan, client_for


def test_all_is_sorted_unique_and_every_name_imports() -> None:
    names = package.__all__
    assert names == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert getattr(package, name) is not None, name


def test_public_classes_document_themselves() -> None:
    for name in package.__all__:
        obj = getattr(package, name)
        if inspect.isclass(obj):
            assert obj.__doc__, f"{name} has no docstring"


async def test_the_issue_example_works_as_written() -> None:
    from actuator import Actuator, ActuatorMiddleware, Health, Status

    class Pool:
        async def execute(self, sql: str) -> None:
            await asyncio.sleep(0)

    pool = Pool()

    class CacheIndicator:
        def health(self) -> Status:
            return Status.UP

    actuator = Actuator(name="orders", version="1.4.2")

    @actuator.indicator("database", groups=["readiness"], timeout=0.5)
    async def database() -> Health:
        await pool.execute("SELECT 1")
        return Health.up(pool_size=10)

    actuator.add_indicator("cache", CacheIndicator(), groups=["readiness"])  # object with health()
    actuator.add_contributor("team", lambda: {"owner": "payments"})

    app = FastAPI()
    app.add_middleware(ActuatorMiddleware, actuator=actuator)

    lifespan = Lifespan(app)
    await lifespan.startup()
    async with client_for(app) as client:
        readiness = await client.get("/actuator/health/readiness")
        health = await client.get("/actuator/health")
    await lifespan.shutdown()
    assert readiness.status_code == 200
    assert readiness.json() == {"status": "UP"}
    assert health.json()["status"] == "UP"
    assert (await actuator.health("readiness")).components.keys() == {  # type: ignore[union-attr]
        "readinessState",
        "database",
        "cache",
    }
    info: dict[str, Any] = await actuator.info()
    assert info["team"] == {"owner": "payments"}
    assert info["app"] == {"name": "orders", "version": "1.4.2"}


async def test_any_other_asgi_app_is_wrapped() -> None:
    from actuator import Actuator

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    actuator = Actuator(settings={"health": {"event_loop": {"enabled": False}}})
    wrapped = actuator.wrap(app)
    async with client_for(wrapped, actuator) as client:
        assert (await client.get("/actuator/health")).json()["status"] == "UP"
        assert (await client.get("/")).status_code == 204
