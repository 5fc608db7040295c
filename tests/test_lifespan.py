"""The lifecycle as the middleware sees the ASGI lifespan: INIT -> UP -> OUT_OF_SERVICE."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from actuator import ActuatorMiddleware, Lifecycle
from tests.support.asgi import Lifespan, RecordingApp, client_for, light_actuator

ALWAYS = {"health": {"show_details": "always"}}


class Gates:
    """Events that hold an app's startup and shutdown until the test lets them go."""

    def __init__(self) -> None:
        self.starting = asyncio.Event()
        self.start = asyncio.Event()
        self.stopping = asyncio.Event()
        self.stop = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(self, app: object) -> AsyncIterator[None]:
        self.starting.set()
        await self.start.wait()
        yield
        self.stopping.set()
        await self.stop.wait()


async def other(request: object) -> PlainTextResponse:
    return PlainTextResponse("other")


async def probe(client: httpx.AsyncClient, group: str) -> tuple[int, Any]:
    answer = await client.get(f"/actuator/health/{group}")
    return answer.status_code, answer.json()


async def test_readiness_goes_init_then_up_then_out_of_service_with_the_lifespan() -> None:
    gates = Gates()
    actuator = light_actuator(ALWAYS)
    app = actuator.wrap(Starlette(lifespan=gates.lifespan, routes=[Route("/other", other)]))
    lifespan = Lifespan(app)
    startup = asyncio.ensure_future(lifespan.startup())
    await asyncio.wait_for(gates.starting.wait(), 5)

    async with client_for(app) as client:
        assert await probe(client, "readiness") == (
            503,
            {
                "status": "INIT",
                "components": {
                    "readinessState": {
                        "status": "INIT",
                        "details": {"reason": "application is starting"},
                    }
                },
            },
        )
        assert (await probe(client, "startup"))[0:1] == (503,)
        assert (await probe(client, "startup"))[1]["status"] == "INIT"
        assert (await probe(client, "liveness"))[0] == 200
        assert actuator.availability.lifecycle is Lifecycle.STARTING

        gates.start.set()
        assert await startup == {"type": "lifespan.startup.complete"}
        assert actuator.started
        assert await probe(client, "readiness") == (
            200,
            {
                "status": "UP",
                "components": {
                    "readinessState": {"status": "UP", "details": {"state": "ACCEPTING_TRAFFIC"}}
                },
            },
        )
        assert (await probe(client, "startup"))[0] == 200

        shutdown = asyncio.ensure_future(lifespan.shutdown())
        await asyncio.wait_for(gates.stopping.wait(), 5)
        status, body = await probe(client, "readiness")
        assert (status, body["status"]) == (503, "OUT_OF_SERVICE")
        assert body["components"]["readinessState"]["details"] == {
            "reason": "application is shutting down"
        }
        assert (await probe(client, "liveness"))[0] == 200
        assert (await client.get("/other")).status_code == 200  # the app still serves

        gates.stop.set()
        assert await shutdown == {"type": "lifespan.shutdown.complete"}
    assert not actuator.started
    assert actuator.availability.lifecycle is Lifecycle.STOPPED


async def test_a_failed_startup_is_readiness_down_with_the_reason_and_no_traceback() -> None:
    @contextlib.asynccontextmanager
    async def failing(app: object) -> AsyncIterator[None]:
        raise RuntimeError("database migrations failed")
        yield  # pragma: no cover

    actuator = light_actuator(ALWAYS)
    app = actuator.wrap(Starlette(lifespan=failing))
    lifespan = Lifespan(app)
    message = await lifespan.startup()
    assert message["type"] == "lifespan.startup.failed"
    with pytest.raises(RuntimeError, match="migrations"):
        await asyncio.wait_for(lifespan.task, 5)  # type: ignore[arg-type]

    async with client_for(app, actuator) as client:
        for group in ("readiness", "startup"):
            status, body = await probe(client, group)
            assert status == 503
            assert body["status"] == "DOWN"
            state = body["components"][f"{group}State"]
            assert state["details"] == {"reason": "RuntimeError: database migrations failed"}
        assert (await probe(client, "liveness"))[0] == 200
    assert actuator.availability.lifecycle is Lifecycle.FAILED
    assert not actuator.started


async def test_a_failed_startup_message_without_traceback_is_kept_as_it_is() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no config file"})

    actuator = light_actuator()
    lifespan = Lifespan(actuator.wrap(app))
    assert (await lifespan.startup())["type"] == "lifespan.startup.failed"
    assert actuator.availability.readiness_health().details == {"reason": "no config file"}


async def test_liveness_stays_up_through_the_whole_lifecycle() -> None:
    gates = Gates()
    gates.start.set()
    actuator = light_actuator()
    actuator.add_indicator("db", lambda: False, groups=["readiness"])
    app = actuator.wrap(Starlette(lifespan=gates.lifespan))
    lifespan = Lifespan(app)
    async with client_for(app) as client:
        await lifespan.startup()
        assert await probe(client, "readiness") == (503, {"status": "DOWN"})
        assert await probe(client, "liveness") == (200, {"status": "UP"})
        shutdown = asyncio.ensure_future(lifespan.shutdown())
        await gates.stopping.wait()
        assert await probe(client, "liveness") == (200, {"status": "UP"})
        gates.stop.set()
        await shutdown


@pytest.mark.parametrize("after_receiving", [False, True])
async def test_an_app_without_lifespan_support_gets_the_lifespan_answered_for_it(
    after_receiving: bool, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            if after_receiving:
                await receive()
            raise ValueError(f"unsupported scope {scope['type']}")
        await RecordingApp()(scope, receive, send)

    actuator = light_actuator()
    wrapped = actuator.wrap(app)
    lifespan = Lifespan(wrapped)
    with caplog.at_level(logging.INFO, logger="actuator"):
        assert await lifespan.startup() == {"type": "lifespan.startup.complete"}
    assert "appears unsupported" in caplog.text
    assert actuator.started
    async with client_for(wrapped) as client:
        assert await probe(client, "readiness") == (200, {"status": "UP"})
        assert (await client.get("/x")).text == "app saw /x"
    assert await lifespan.shutdown() == {"type": "lifespan.shutdown.complete"}
    assert not actuator.started
    assert actuator.availability.lifecycle is Lifecycle.STOPPED


async def test_without_any_lifespan_the_app_is_ready_on_the_first_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = light_actuator()
    app = RecordingApp()
    with caplog.at_level(logging.INFO, logger="actuator"):
        async with client_for(actuator.wrap(app), actuator) as client:
            assert not actuator.started
            assert (await client.get("/orders")).status_code == 200
            assert actuator.started
            assert await probe(client, "readiness") == (200, {"status": "UP"})
            assert await probe(client, "startup") == (200, {"status": "UP"})
    assert "No ASGI lifespan seen before the first request" in caplog.text


async def test_start_and_stop_hooks_of_indicators_follow_the_lifespan() -> None:
    calls: list[str] = []

    class Pool:
        async def start(self) -> None:
            calls.append("start")

        def stop(self) -> None:
            calls.append("stop")

        async def health(self) -> bool:
            return True

    actuator = light_actuator()
    actuator.add_indicator("pool", Pool())
    lifespan = Lifespan(actuator.wrap(RecordingApp()))
    await lifespan.startup()
    assert calls == ["start"]
    await lifespan.shutdown()
    assert calls == ["start", "stop"]


async def test_a_failing_hook_is_logged_and_does_not_stop_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def start(self) -> None:
            raise OSError("no socket")

        def health(self) -> bool:
            return True

    actuator = light_actuator()
    actuator.add_indicator("broken", Broken())
    lifespan = Lifespan(actuator.wrap(RecordingApp()))
    assert await lifespan.startup() == {"type": "lifespan.startup.complete"}
    assert "Broken.start() failed" in caplog.text
    await lifespan.shutdown()


async def test_fastapi_lifespan_passes_through_add_middleware() -> None:
    gates = Gates()
    gates.start.set()
    gates.stop.set()
    actuator = light_actuator()
    app = FastAPI(lifespan=gates.lifespan)
    app.add_middleware(ActuatorMiddleware, actuator=actuator)
    lifespan = Lifespan(app)
    async with client_for(app) as client:
        lifespan_task = asyncio.ensure_future(lifespan.startup())
        assert await lifespan_task == {"type": "lifespan.startup.complete"}
        assert gates.starting.is_set()
        assert await probe(client, "readiness") == (200, {"status": "UP"})
        assert await lifespan.shutdown() == {"type": "lifespan.shutdown.complete"}
        assert (await probe(client, "readiness"))[1]["status"] == "OUT_OF_SERVICE"
