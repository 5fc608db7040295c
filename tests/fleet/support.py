"""Shared pieces for the console's tests: tokens, a clock, a running console."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from actuator import hash_token
from actuator.fleet.app import FleetConsole
from actuator.fleet.config import ConsoleConfig
from tests.support.asgi import Lifespan

INGEST_TOKEN = "ingest-token-0123456789abcdefghij"
READ_TOKEN = "reader-token-0123456789abcdefghij"
INGEST = {"authorization": f"Bearer {INGEST_TOKEN}"}
READ = {"authorization": f"Bearer {READ_TOKEN}"}
T0 = 1_800_000_000.0

CONSOLE_SETTINGS: dict[str, Any] = {
    "health": {
        "event_loop": {"enabled": False},
        "disk_space": {"enabled": False},
        "show_details": "always",
    },
    "security": {"tokens": {"ops": hash_token(READ_TOKEN)}, "roles": {"read": ["ops"]}},
}


def console_config(database: str, **overrides: Any) -> ConsoleConfig:
    return ConsoleConfig.model_validate(
        {
            "database": database,
            "ingest_tokens": {"gateway": hash_token(INGEST_TOKEN)},
            "settings": CONSOLE_SETTINGS,
            **overrides,
        }
    )


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def register(
    iid: str, status: str = "UP", *, service: str = "orders", version: str = "1.0", **facts: Any
) -> dict[str, Any]:
    return {
        "type": "register",
        "id": iid,
        "status": status,
        "service": service,
        "version": version,
        "url": f"http://{iid}:8080/actuator",
        "facts": {"environment": "prod", "application": "shop", **facts},
    }


def status(iid: str, code: str, components: list[str] | None = None) -> dict[str, Any]:
    return {"type": "status", "id": iid, "status": code, "components": components or []}


@contextlib.asynccontextmanager
async def running(
    console: FleetConsole, client: tuple[str, int] = ("127.0.0.1", 123)
) -> AsyncIterator[httpx.AsyncClient]:
    """The console started through its ASGI lifespan, and a client for it (calling
    from the address ``client``)."""
    lifespan = Lifespan(console)
    started = await lifespan.startup()
    if started["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"console did not start: {started}")
    try:
        transport = httpx.ASGITransport(app=console, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://fleet") as http:
            yield http
    finally:
        await lifespan.shutdown()
