"""Driving ASGI apps in-process: an httpx client, hand-made requests and the lifespan.

::

    actuator = light_actuator()
    async with client_for(actuator.wrap(RecordingApp()), actuator) as client:
        answer = await client.get("/actuator/health")

    answer = await request(app, "GET", "/actuator/../x")   # bytes exactly as a server passes them

    lifespan = Lifespan(app)
    await lifespan.startup()      # -> {"type": "lifespan.startup.complete"}
    await lifespan.shutdown()     # -> {"type": "lifespan.shutdown.complete"}
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actuator import Actuator

LIGHT = {
    "health": {"event_loop": {"enabled": False}, "disk_space": {"enabled": False}},
    "security": {"anonymous": ["*"], "write_roles": {"*": "anonymous"}},
}
"""Settings that leave out the built-in checks that start threads or touch the disk, and
open every operation to anonymous callers: these tests are about the core's mechanics;
tests/security/test_security.py covers who may call what."""


def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it, nested mappings merged key by key."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def light_actuator(settings: Mapping[str, Any] | None = None, **kwargs: Any) -> Actuator:
    """An ``Actuator`` without the event-loop heartbeat and disk check, so tests stay light."""
    return Actuator(settings=merge(LIGHT, settings or {}), **kwargs)


@contextlib.asynccontextmanager
async def client_for(
    app: ASGIApp, actuator: Actuator | None = None, *, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client for ``app`` (no lifespan, as ``ASGITransport``); stops ``actuator`` after."""
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
    finally:
        if actuator is not None:
            await actuator.shutdown()


class RecordingApp:
    """A bare ASGI app that answers ``app saw <path>`` and remembers every scope it was given."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []

    @property
    def http_calls(self) -> list[Scope]:
        return [s for s in self.scopes if s["type"] == "http"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        elif scope["type"] == "http":
            body = f"app saw {scope['path']}".encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"text/plain"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            message = await receive()
            await send({"type": "websocket.send", "text": f"echo {message.get('text')}"})
            await send({"type": "websocket.close", "code": 1000})


@dataclass
class Answer:
    """What an app sent back for one hand-made request."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    messages: list[Message] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name.lower():
                return value
        return None

    def json(self) -> Any:
        return json.loads(self.body)


def http_scope(
    method: str = "GET",
    path: str = "/",
    *,
    raw_path: bytes | None = None,
    query: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    root_path: str = "",
) -> Scope:
    """An HTTP scope as uvicorn builds it: ``path`` decoded, ``raw_path`` as sent."""
    header_list = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if not any(k == b"host" for k, _ in header_list):
        header_list.insert(0, (b"host", b"testserver"))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": raw_path if raw_path is not None else path.encode("utf-8"),
        "query_string": query,
        "root_path": root_path,
        "headers": header_list,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


async def request(
    app: ASGIApp,
    method: str = "GET",
    path: str = "/",
    *,
    raw_path: bytes | None = None,
    query: bytes = b"",
    headers: Iterable[tuple[str, str]] = (),
    body: Iterable[bytes] = (),
    root_path: str = "",
) -> Answer:
    """Send one request straight to ``app``, bytes exactly as given (no client normalises them).

    ``body`` is the list of chunks (``more_body`` is set on all but the last).
    """
    scope = http_scope(
        method, path, raw_path=raw_path, query=query, headers=headers, root_path=root_path
    )
    chunks = list(body)
    incoming: list[Message] = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ] or [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[Message] = []

    async def receive() -> Message:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)  # as a server does: nothing more until the client leaves
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return Answer(
        status=start["status"],
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in start["headers"]],
        body=b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
        messages=sent,
    )


class Lifespan:
    """Runs an app's ASGI lifespan as a server does, one step at a time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def startup(self) -> Message:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

        async def run() -> None:
            await self.app(scope, self._to_app.get, self._from_app.put)

        self.task = asyncio.get_running_loop().create_task(run())
        await self._to_app.put({"type": "lifespan.startup"})
        return await self._next()

    async def shutdown(self) -> Message:
        await self._to_app.put({"type": "lifespan.shutdown"})
        message = await self._next()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=5)
        return message

    async def _next(self) -> Message:
        if self.task is None:
            raise RuntimeError("lifespan not started")
        getter = asyncio.ensure_future(self._from_app.get())
        done, _ = await asyncio.wait(
            {getter, self.task}, timeout=5, return_when=asyncio.FIRST_COMPLETED
        )
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()  # raises what the app raised
            raise RuntimeError("the app ended its lifespan without answering")
        raise TimeoutError("no lifespan answer within 5 s")


async def get_once(actuator: Actuator, path: str) -> httpx.Response:
    """``GET path`` from ``actuator`` served alone, then shut it down: without lifespan the
    first request starts its background work (the event-loop heartbeat), which must not
    outlive the test's event loop."""
    async with client_for(actuator, actuator, base_url="http://test") as client:
        return await client.get(path)
