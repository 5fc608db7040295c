"""The examples answer as their docs say: in-process, and one real run of the demo."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp, Message

from examples import fastapi_app, raw_asgi, starlette_app
from tests.support.server import ROOT, UvicornProcess, free_port


@contextlib.asynccontextmanager
async def served(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``app`` with its ASGI lifespan run around it, as a server would."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def lifespan() -> None:
        await app(
            {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, inbox.get, outbox.put
        )

    task = asyncio.create_task(lifespan())
    await inbox.put({"type": "lifespan.startup"})
    assert (await asyncio.wait_for(outbox.get(), 10))["type"] == "lifespan.startup.complete"
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await asyncio.wait_for(outbox.get(), 10))["type"] == "lifespan.shutdown.complete"
        await asyncio.wait_for(task, 10)


async def test_fastapi_example_answers_health_and_info(tmp_path: Path) -> None:
    payments = f"http://127.0.0.1:{free_port()}/payments/health"  # nothing listens there
    app = fastapi_app.create_app(str(tmp_path / "orders.db"), payments)
    async with served(app) as client:
        created = await client.post("/orders", json={"item": "book", "quantity": 2})
        invalid = await client.post("/orders", json={"item": "", "quantity": 0})
        listed = await client.get("/orders")
        readiness = await client.get("/actuator/health/readiness")
        health = await client.get("/actuator/health")
        info = await client.get("/actuator/info")
    assert created.status_code == 201
    assert invalid.status_code == 422
    assert [order["item"] for order in listed.json()] == ["book"]
    # The database is in readiness; payments is not, so it being down keeps the pod in rotation.
    assert readiness.status_code == 200
    assert readiness.json()["components"]["database"] == {
        "status": "UP",
        "details": {
            "database": "SQLite",
            "version": sqlite3.sqlite_version,
            "validationQuery": "SELECT 1",
        },
    }
    assert "payments" not in readiness.json()["components"]
    assert (health.status_code, health.json()["status"]) == (503, "DOWN")
    payments_health = health.json()["components"]["payments"]
    assert payments_health["status"] == "DOWN"
    assert "ConnectError" in payments_health["details"]["error"]
    assert info.json()["app"] == {
        "name": "orders",
        "version": "1.4.2",
        "description": "Takes and lists orders",
    }
    assert info.json()["orders"]["count"] == 1


async def test_starlette_example_answers_health_and_info_and_leaves_rotation_on_demand() -> None:
    async with served(starlette_app.app) as client:
        cache = await client.get("/actuator/health/backends")
        greeting = await client.get("/")
        await client.post("/maintenance")
        refused = await client.get("/actuator/health/readiness")
        await client.delete("/maintenance")
        accepted = await client.get("/actuator/health/readiness")
        info = await client.get("/actuator/info")
    assert cache.json() == {
        "status": "UP",
        "components": {"cache": {"status": "UP", "details": {"entries": 1}}},
    }
    assert greeting.json() == {"message": "hello"}
    assert refused.status_code == 503
    assert refused.json()["components"]["readinessState"]["details"]["reasons"] == {
        "app": "maintenance window"
    }
    assert accepted.status_code == 200
    assert info.json()["app"]["name"] == "greeter"


async def test_raw_asgi_example_is_ready_though_the_app_ignores_the_lifespan() -> None:
    async with served(raw_asgi.app) as client:
        readiness = await client.get("/actuator/health/readiness")
        hello = await client.get("/anything")
        info = await client.get("/actuator/info")
    assert (readiness.status_code, readiness.json()) == (200, {"status": "UP"})
    assert hello.text == "hello from a bare ASGI app\n"
    assert info.status_code == 404  # only health is exposed by default
    assert raw_asgi.actuator.app_info["name"] == "bare"


@pytest.mark.compat("framework", "fastapi", "example app runs under uvicorn")
def test_fastapi_example_prints_its_urls_and_every_one_answers(tmp_path: Path) -> None:
    port = free_port()
    script = [
        sys.executable,
        str(ROOT / "examples" / "fastapi_app.py"),
        "--port",
        str(port),
        "--db",
        str(tmp_path / "orders.db"),
    ]
    with UvicornProcess("", command=script) as server:
        urls = [line.strip() for line in server.output.splitlines() if line.startswith("  http://")]
        answers = {url: httpx.get(url, timeout=5) for url in urls}
        health = httpx.get(f"{server.url}/actuator/health", timeout=5)
    root = f"http://127.0.0.1:{port}"
    assert server.port == port
    assert {
        f"{root}/actuator",
        f"{root}/actuator/health",
        f"{root}/actuator/info",
        f"{root}/actuator/health/readiness",
        f"{root}/actuator/health/database",
        f"{root}/actuator/health/payments",
        f"{root}/orders",
    } <= set(urls)
    statuses = {url: answer.status_code for url, answer in answers.items()}
    assert statuses == dict.fromkeys(urls, 200)
    assert health.json()["status"] == "UP"
    assert health.json()["components"]["payments"]["details"]["url"] == (f"{root}/payments/health")


FRAMEWORK_EXAMPLES = [
    # (framework, script, a request of the app, the uri it counts as)
    ("starlette", "starlette_app.py", "/", "/"),
    ("litestar", "litestar_app.py", "/v1/books/7", "/v1/books/{book_id}"),
    ("quart", "quart_app.py", "/rooms/lobby/messages", "/rooms/<room>/messages"),
    ("django", "django_app.py", "/shop/orders/12/", "/shop/orders/<int:pk>/"),
]


@pytest.mark.parametrize(
    ("script", "path", "uri"),
    [
        pytest.param(
            script,
            path,
            uri,
            id=name,
            marks=pytest.mark.compat("framework", name, "example app runs under uvicorn"),
        )
        for name, script, path, uri in FRAMEWORK_EXAMPLES
    ],
)
def test_framework_example_runs_as_it_is_under_uvicorn(script: str, path: str, uri: str) -> None:
    command = [sys.executable, str(ROOT / "examples" / script), "--port", str(free_port())]
    with UvicornProcess("", command=command) as server:
        answer = httpx.get(server.url + path, timeout=5)
        readiness = httpx.get(f"{server.url}/actuator/health/readiness", timeout=5)
        mappings = httpx.get(f"{server.url}/actuator/mappings", timeout=5).text
        scrape = httpx.get(f"{server.url}/actuator/prometheus", timeout=5).text
    assert answer.status_code == 200, answer.text
    assert (readiness.status_code, readiness.json()["status"]) == (200, "UP")
    counted = [
        re.search(r'uri="([^"]*)"', line)
        for line in scrape.splitlines()
        if line.startswith("http_server_requests_seconds_count{")
    ]
    assert [match.group(1) for match in counted if match] == [uri]  # the template, not the path
    assert f'"{uri.replace("{book_id}", "{book_id:int}")}"' in mappings
