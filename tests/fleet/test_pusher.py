"""The actuator's push to a fleet console: register, changes, heartbeats, goodbye, back-off."""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from actuator import Actuator
from actuator.client import Backoff
from actuator.fleet.app import FleetConsole
from actuator.fleet.pusher import FleetPusher, default_instance_id, registration_from_info
from actuator.settings import FleetSettings
from tests.fleet.support import INGEST_TOKEN, READ, console_config, running
from tests.fleet.test_serve import console as console_process
from tests.support.asgi import Lifespan, RecordingApp


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await check()
        except (AssertionError, KeyError):
            if time.monotonic() > deadline:
                raise
        else:
            return result
        await asyncio.sleep(0.05)


class Flaky(httpx.AsyncBaseTransport):
    """Fails the first ``failures`` requests (or hangs on them), then passes them on."""

    def __init__(self, inner: httpx.AsyncBaseTransport, failures: int, hang: bool = False) -> None:
        self.inner, self.failures, self.hang = inner, failures, hang
        self.calls: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(time.monotonic())
        if len(self.calls) <= self.failures:
            if self.hang:
                await asyncio.sleep(3600)
            raise httpx.ConnectError("connection refused")
        return await self.inner.handle_async_request(request)


class State:
    def __init__(self) -> None:
        self.status: tuple[str, list[str]] = ("UP", [])

    async def __call__(self) -> tuple[str, list[str]]:
        return self.status


async def registration() -> dict[str, Any]:
    return {"service": "orders", "version": "1.2.3", "facts": {"team": "orders"}}


def settings(**extra: Any) -> FleetSettings:
    options: dict[str, Any] = {
        "url": "http://fleet",
        "token": INGEST_TOKEN,
        "heartbeat": 1,
        "check_interval": 0.1,
        "timeout": 0.5,
        "instance_id": "orders-1",
    }
    return FleetSettings(**{**options, **extra})


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[tuple[FleetConsole, httpx.AsyncClient]]:
    console = FleetConsole(console_config(f"sqlite:///{tmp_path / 'fleet.db'}"))
    async with running(console) as client:
        yield console, client


async def read(client: httpx.AsyncClient, path: str) -> Any:
    answer = await client.get(path, headers=READ)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_registers_pushes_changes_heartbeats_and_says_goodbye(
    fleet: tuple[FleetConsole, httpx.AsyncClient],
) -> None:
    console, client = fleet
    state = State()
    pusher = FleetPusher(
        settings(management_url="http://10.0.0.7:8080/actuator"),
        status=state,
        registration=registration,
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=console)),
    )
    await pusher.start()
    try:
        first = await eventually(lambda: read(client, "/fleet/api/instances/orders-1"))
        assert (first["service"], first["version"], first["status"]) == ("orders", "1.2.3", "UP")
        assert first["facts"] == {"team": "orders"}
        assert first["url"] == "http://10.0.0.7:8080/actuator"

        state.status = ("DOWN", ["db"])
        pusher.poke()

        async def down() -> dict[str, Any]:
            found: dict[str, Any] = await read(client, "/fleet/api/instances/orders-1")
            assert found["status"] == "DOWN"
            return found

        changed = await eventually(down, timeout=2)
        assert changed["componentsDown"] == ["db"]

        async def heartbeat() -> None:
            found = await read(client, "/fleet/api/instances/orders-1")
            assert found["lastSeen"] > changed["lastSeen"]

        await eventually(heartbeat, timeout=5)
        history = (await read(client, "/fleet/api/instances/orders-1"))["history"]
        assert [e["status"] for e in history] == ["DOWN", "UP"]
    finally:
        await pusher.stop()
    assert (await client.get("/fleet/api/instances/orders-1", headers=READ)).status_code == 404


async def test_backs_off_with_jitter_then_sends_the_current_state(
    fleet: tuple[FleetConsole, httpx.AsyncClient],
) -> None:
    console, client = fleet
    transport = Flaky(httpx.ASGITransport(app=console), failures=4)
    state = State()
    backoff = Backoff(base=0.05, cap=0.2, rng=random.Random(7))
    pusher = FleetPusher(
        settings(),
        status=state,
        registration=registration,
        client=httpx.AsyncClient(transport=transport),
        backoff=backoff,
    )
    state.status = ("OUT_OF_SERVICE", ["readinessState"])
    await pusher.start()
    try:
        found = await eventually(lambda: read(client, "/fleet/api/instances/orders-1"))
        assert found["status"] == "OUT_OF_SERVICE"
        assert len(transport.calls) >= 5
        gaps = [b - a for a, b in zip(transport.calls[:4], transport.calls[1:5], strict=True)]
        assert all(gap <= 0.2 + 0.1 for gap in gaps)
        assert pusher.failing is False
        assert backoff.failures == 0
    finally:
        await pusher.stop()


async def test_a_hung_console_costs_one_deadline_per_call(
    fleet: tuple[FleetConsole, httpx.AsyncClient],
) -> None:
    console, client = fleet
    transport = Flaky(httpx.ASGITransport(app=console), failures=2, hang=True)
    pusher = FleetPusher(
        settings(timeout=0.2),
        status=State(),
        registration=registration,
        client=httpx.AsyncClient(transport=transport),
        backoff=Backoff(base=0.01, cap=0.01),
    )
    started = time.monotonic()
    await pusher.start()
    try:
        await eventually(lambda: read(client, "/fleet/api/instances/orders-1"))
        assert time.monotonic() - started < 2.0
    finally:
        await pusher.stop()


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(base=1, cap=8, rng=random.Random(1))
    bounds = []
    for _ in range(6):
        before = backoff.failures
        delay = backoff.next()
        bounds.append(min(8, 2**before))
        assert 0 <= delay <= bounds[-1]
    assert bounds == [1, 2, 4, 8, 8, 8]
    backoff.reset()
    assert backoff.failures == 0
    with pytest.raises(ValueError, match="base must be positive"):
        Backoff(base=0)


async def test_a_refused_token_is_logged_without_the_token(
    fleet: tuple[FleetConsole, httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    console, _ = fleet
    secret = "not-the-right-token-0123456789"
    pusher = FleetPusher(
        FleetSettings(
            url="http://fleet", token=SecretStr(secret), check_interval=0.1, instance_id="x"
        ),
        status=State(),
        registration=registration,
        client=httpx.AsyncClient(transport=httpx.ASGITransport(app=console)),
        backoff=Backoff(base=0.05, cap=0.05),
    )
    with caplog.at_level(logging.DEBUG, logger="actuator"):
        await pusher.start()
        await eventually(lambda: _assert(pusher.failing))
        await pusher.stop()
    assert "401 Invalid ingest token" in caplog.text
    assert secret not in caplog.text


async def _assert(value: bool) -> None:
    assert value


def test_the_default_instance_id_names_host_pid_and_start() -> None:
    instance_id = default_instance_id(started=1_800_000_000.0)
    host, pid, start = instance_id.rsplit("-", 2)
    assert host
    assert int(pid) > 0
    assert int(start, 16) == 1_800_000_000_000


def test_registration_is_taken_from_info() -> None:
    info = {
        "app": {"name": "orders api", "version": "1.4"},
        "facts": {"team": "orders", "n": 3},
        "build": {"time": "2026-01-01", "artifact": "orders"},
        "git": {"branch": "main", "commit": {"id": "abc123", "time": None}},
    }
    assert registration_from_info(info) == {
        "service": "orders-api",
        "version": "1.4",
        "facts": {"team": "orders", "n": 3},
        "build": {"time": "2026-01-01", "artifact": "orders"},
        "git": {"branch": "main", "commit.id": "abc123", "commit.time": None},
    }


def test_fleet_settings_check_urls() -> None:
    with pytest.raises(ValueError, match="must be an http:// or https:// URL"):
        FleetSettings(url="fleet.example.com")
    assert "secret-value" not in repr(
        FleetSettings(url="http://f", token=SecretStr("secret-value"))
    )


async def test_an_app_with_fleet_settings_appears_in_a_real_console(tmp_path: Path) -> None:
    """The whole path: an app's actuator pushes over real HTTP to `actuator fleet serve`."""
    with console_process(tmp_path, f"sqlite:///{tmp_path / 'fleet.db'}") as server:
        actuator = Actuator(
            name="orders",
            version="2.0",
            settings={
                "health": {"event_loop": {"enabled": False}, "disk_space": {"enabled": False}},
                "info": {"facts": {"team": "orders", "environment": "prod"}},
                "fleet": {
                    "url": server.url,
                    "token": INGEST_TOKEN,
                    "check_interval": 0.1,
                    "instance_id": "orders-e2e",
                },
            },
        )
        lifespan = Lifespan(actuator.wrap(RecordingApp()))
        await lifespan.startup()
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
            try:

                async def shown(expected: str) -> dict[str, Any]:
                    found: dict[str, Any] = await read(client, "/fleet/api/instances/orders-e2e")
                    assert found["status"] == expected
                    return found

                found = await eventually(lambda: shown("UP"))
                assert (found["service"], found["version"]) == ("orders", "2.0")
                assert found["facts"] == {"team": "orders", "environment": "prod"}
                actuator.pause()
                paused = await eventually(lambda: shown("OUT_OF_SERVICE"), timeout=5)
                assert "readinessState" in paused["componentsDown"]
            finally:
                await lifespan.shutdown()
            gone = await client.get("/fleet/api/instances/orders-e2e", headers=READ)
            assert gone.status_code == 404
    assert sys.modules["actuator.fleet.pusher"]


class Swallowing(httpx.AsyncBaseTransport):
    """Holds the first request until cancelled, then loses the cancellation: it answers
    200, or raises a transport error, as a client library that swallows CancelledError
    does (nats-py's next_msg raises ConnectionClosedError instead once it is closed)."""

    def __init__(self, outcome: str) -> None:
        self.outcome = outcome
        self.entered = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.entered.is_set():
            self.entered.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if self.outcome == "raises":
                    raise httpx.ConnectError("connection closed") from None
        return httpx.Response(200, json={"accepted": 1, "unknown": []})


@pytest.mark.parametrize("outcome", ["answers", "raises"])
async def test_stop_ends_the_loop_even_when_the_transport_loses_the_cancellation(
    outcome: str,
) -> None:
    transport = Swallowing(outcome)
    pusher = FleetPusher(
        settings(),
        status=State(),
        registration=registration,
        client=httpx.AsyncClient(transport=transport),
        backoff=Backoff(base=0.01, cap=0.02),
    )
    await pusher.start()
    task = pusher._task
    assert task is not None
    try:
        await asyncio.wait_for(transport.entered.wait(), 5)
        await asyncio.wait_for(pusher.stop(), 5)  # a TimeoutError here: it ran on
        assert task.cancelled()
    finally:
        task.cancel()
