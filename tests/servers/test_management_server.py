"""The management port: its own uvicorn server on the app's event loop, tied to the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import threading
import time
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator import Actuator

SETTINGS: dict[str, Any] = {
    "management_server": {"enabled": True, "port": 0},
    "health": {"event_loop": {"enabled": False}, "disk_space": {"enabled": False}},
}


async def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def app_server(app: Any, **options: Any) -> AsyncIterator[uvicorn.Server]:
    """The app on a real uvicorn server on this event loop, as ``uvicorn app:app`` would run it."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="on", log_config=None, **options)
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


def app_port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


async def test_startup_is_observable_on_the_management_port_while_the_app_starts() -> None:
    release = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await release.wait()  # a slow startup: migrations, cache warm-up...
        yield

    actuator = Actuator(settings=SETTINGS)
    management = actuator.management_server
    assert management is not None
    async with (
        app_server(actuator.wrap(Starlette(lifespan=lifespan))) as server,
        httpx.AsyncClient(timeout=10) as http,
    ):
        await wait_for(lambda: management.port is not None)
        url = f"http://127.0.0.1:{management.port}/actuator/health"
        starting = await http.get(f"{url}/startup")
        not_ready = await http.get(f"{url}/readiness")
        assert not server.started
        release.set()
        await wait_for(lambda: server.started)
        started = await http.get(f"{url}/startup")
        ready = await http.get(f"{url}/readiness")
    assert (starting.status_code, starting.json()) == (503, {"status": "INIT"})
    assert not_ready.json() == {"status": "INIT"}
    assert (started.status_code, ready.json()) == (200, {"status": "UP"})
    assert not management.started
    async with httpx.AsyncClient(timeout=5) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_the_app_port_no_longer_serves_the_actuator() -> None:
    async def legacy(request: Request) -> PlainTextResponse:
        return PlainTextResponse("the app's own /actuator/legacy")

    actuator = Actuator(settings=SETTINGS)
    app = actuator.wrap(Starlette(routes=[Route("/actuator/legacy", legacy)]))
    async with app_server(app) as server, httpx.AsyncClient(timeout=10) as http:
        await wait_for(lambda: server.started)
        base = f"http://127.0.0.1:{app_port(server)}/actuator"
        health = await http.get(f"{base}/health")
        legacy_route = await http.get(f"{base}/legacy")
        management_server = actuator.management_server
        assert management_server is not None
        management = await http.get(f"http://127.0.0.1:{management_server.port}/actuator/health")
        elsewhere = await http.get(f"http://127.0.0.1:{management_server.port}/hello")
    assert (health.status_code, health.text) == (404, "Not Found")  # Starlette's own 404
    assert legacy_route.text == "the app's own /actuator/legacy"
    assert management.json()["status"] == "UP"
    assert elsewhere.status_code == 404
    assert elsewhere.json()["message"] == "Not found"


async def test_probes_answer_on_the_management_port_while_the_app_port_is_saturated() -> None:
    limit = 4
    gate = asyncio.Event()
    in_flight = 0

    async def slow(request: Request) -> PlainTextResponse:
        nonlocal in_flight
        in_flight += 1
        await gate.wait()
        return PlainTextResponse("done")

    actuator = Actuator(settings=SETTINGS)
    app = actuator.wrap(Starlette(routes=[Route("/slow", slow)]))
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=0)
    async with (
        app_server(app, limit_concurrency=limit) as server,
        httpx.AsyncClient(timeout=30, limits=limits) as http,
    ):
        await wait_for(lambda: server.started)
        app_url = f"http://127.0.0.1:{app_port(server)}"
        management_url = f"http://127.0.0.1:{actuator.management_server.port}"  # type: ignore[union-attr]
        # uvicorn counts the connection being served: limit - 1 requests fill it.
        slow_requests = [
            asyncio.ensure_future(http.get(f"{app_url}/slow")) for _ in range(limit - 1)
        ]
        await wait_for(lambda: in_flight == limit - 1)
        refused = await http.get(f"{app_url}/slow")
        started = asyncio.get_running_loop().time()
        probes = await asyncio.gather(
            *(http.get(f"{management_url}/actuator/health/readiness") for _ in range(20))
        )
        probe_seconds = asyncio.get_running_loop().time() - started
        gate.set()
        finished = await asyncio.gather(*slow_requests)
    assert refused.status_code == 503
    assert [p.status_code for p in probes] == [200] * 20
    assert probe_seconds < 5.0  # generous: they do not queue behind the app's requests
    assert [r.text for r in finished] == ["done"] * (limit - 1)


async def test_a_port_that_cannot_be_bound_fails_the_app_startup() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    actuator = Actuator(settings={**SETTINGS, "management_server": {"enabled": True, "port": port}})
    sent: list[MutableMapping[str, Any]] = []
    messages = iter([{"type": "lifespan.startup"}])

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    try:
        await actuator.wrap(Starlette())({"type": "lifespan"}, receive, send)
    finally:
        blocker.close()
        await blocker.wait_closed()
    assert sent[0]["type"] == "lifespan.startup.failed"
    assert f"cannot listen on 127.0.0.1:{port}" in sent[0]["message"]
    assert actuator.availability.startup_health().status.code == "DOWN"


async def test_without_a_lifespan_the_first_app_request_starts_the_management_server() -> None:
    actuator = Actuator(settings=SETTINGS)
    management = actuator.management_server
    assert management is not None
    transport = httpx.ASGITransport(app=actuator.wrap(Starlette()))
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as app_client:
        await app_client.get("/anything")
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            ready = await http.get(f"http://127.0.0.1:{management.port}/actuator/health/readiness")
    finally:
        await management.stop()
        await actuator.shutdown()
    assert ready.json() == {"status": "UP"}


THREADED: dict[str, Any] = {
    "management_server": {"enabled": True, "port": 0, "thread": True},
    "health": {
        "event_loop": {
            "enabled": True,
            "threshold": 0.3,
            "interval": 0.05,
            "recent": 1.0,
            "watchdog": False,
        },
        "disk_space": {"enabled": False},
        "show_details": "always",
    },
    "security": {"anonymous": ["*"]},
}


def _probe_later(url: str, delay: float, results: list[tuple[int, float]]) -> threading.Thread:
    """Probe ``url`` from a thread of its own after ``delay`` seconds (the app's loop may
    be blocked, and the test's loop with it)."""

    parts = httpx.URL(url)

    def run() -> None:
        time.sleep(delay)
        # http.client: httpx.get would spend longer building its TLS context than
        # the probe takes.
        connection = http.client.HTTPConnection(parts.host, parts.port, timeout=5)
        started = time.perf_counter()
        connection.request("GET", parts.path)
        response = connection.getresponse()
        response.read()
        results.append((response.status, time.perf_counter() - started))
        connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


async def test_on_its_own_thread_probes_answer_while_the_apps_loop_is_blocked() -> None:
    async def block(request: Request) -> PlainTextResponse:
        time.sleep(1.2)  # noqa: ASYNC251 - blocking the app's loop is the point
        return PlainTextResponse("unblocked")

    actuator = Actuator(settings=THREADED)
    app = actuator.wrap(Starlette(routes=[Route("/block", block)]))
    async with app_server(app) as server, httpx.AsyncClient(timeout=30) as http:
        await wait_for(lambda: server.started)
        management = f"http://127.0.0.1:{actuator.management_server.port}"  # type: ignore[union-attr]
        liveness = f"{management}/actuator/health/liveness"
        before = await http.get(liveness)
        results: list[tuple[int, float]] = []
        prober = _probe_later(liveness, 0.7, results)
        blocked = await http.get(f"http://127.0.0.1:{app_port(server)}/block")
        await asyncio.to_thread(prober.join)
        # Busy but progressing again: UP once the stall is older than ``recent``.
        await asyncio.sleep(1.2)
        after = await http.get(liveness)
    assert before.status_code == 200
    assert before.json()["components"]["eventLoop"]["status"] == "UP"
    assert blocked.text == "unblocked"
    [(status, seconds)] = results
    assert status == 503  # stalled past the threshold: DOWN, answered by the other thread
    assert seconds < 0.5  # not after the 1.2 s block ends
    assert after.status_code == 200
    assert not [t for t in threading.enumerate() if t.name == "actuator-management-server"]


async def test_on_its_own_thread_a_port_that_cannot_be_bound_fails_the_startup() -> None:
    blocker = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = blocker.sockets[0].getsockname()[1]
    actuator = Actuator(
        settings={**THREADED, "management_server": {"enabled": True, "port": port, "thread": True}}
    )
    try:
        with pytest.raises(RuntimeError, match=f"cannot listen on 127.0.0.1:{port}"):
            await actuator.management_server.start()  # type: ignore[union-attr]
    finally:
        blocker.close()
        await blocker.wait_closed()
        await actuator.shutdown()


def test_liveness_reads_the_event_loop_heartbeat_only_when_the_server_has_its_own_thread() -> None:
    threaded = Actuator(settings=THREADED)
    same_loop = Actuator(settings={**THREADED, "management_server": {"enabled": True}})

    def members(actuator: Actuator) -> set[str]:
        group = actuator.health_groups["liveness"]
        return {r.name for r in group.members(actuator.registrations)}

    assert members(threaded) == {"livenessState", "eventLoop"}
    assert members(same_loop) == {"livenessState"}
