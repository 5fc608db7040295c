"""Apps and clients for the runtime-management tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from actuator import Actuator

CLIENT = ("10.0.0.7", 51234)
"""The client address requests come from, as the audit log records it."""

BAD_BODIES: list[tuple[bytes, str, int, str]] = [
    # (body, content type, status, what the error message names)
    (b'["x"]', "application/json", 400, "JSON object"),
    (b'"x"', "application/json", 400, "JSON object"),
    (b'{"x": ', "application/json", 400, "Malformed JSON"),
    (b"x=1", "application/x-www-form-urlencoded", 415, "JSON"),
    (b"{}", "text/plain", 415, "JSON"),
    (b'{"x": "' + b"x" * 70_000 + b'"}', "application/json", 413, "65536 bytes"),
]
"""Bodies every write operation refuses, whatever fields it takes."""

ANYONE: dict[str, Any] = {"anonymous": ["*"], "write_roles": {"*": "anonymous"}}
"""Security settings that let anonymous callers run any operation access levels allow."""

OPEN: dict[str, Any] = {
    "exposure": {"include": ["*"]},
    "access": {"default": "unrestricted"},
    "security": ANYONE,
}
"""Settings that expose every endpoint and allow every operation to anyone (who may call
what is tests/security/test_security.py's business)."""


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def starlette_app() -> Starlette:
    return Starlette(
        routes=[Route("/hello", hello, methods=["GET", "POST"]), Route("/api/orders", hello)]
    )


def make_actuator(**settings: Any) -> Actuator:
    """An actuator with every endpoint open, plus ``settings`` (sections merged over ``OPEN``)."""
    merged = {**OPEN, **settings}
    return Actuator(name="orders", version="1.0.0", settings=merged)


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=CLIENT), base_url="http://testserver"
    )


@contextlib.asynccontextmanager
async def serve(actuator: Actuator, app: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """A client for ``app`` (default: a small Starlette app wrapped by ``actuator``);
    the actuator's background work is stopped afterwards."""
    if app is None:
        app = actuator.wrap(starlette_app())
    try:
        async with client(app) as http:
            yield http
    finally:
        await actuator.shutdown()
