"""The actuator middleware: serves the base path, watches the lifespan, passes the rest through."""

from __future__ import annotations

import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from actuator._handler import ActuatorHandler
from actuator._http import error_body, send_response
from actuator.core import Actuator
from actuator.metrics.http import Handler

logger = logging.getLogger("actuator")


class ActuatorMiddleware:
    """Pure ASGI middleware that mounts an ``Actuator`` in front of any ASGI app.

    ::

        app = FastAPI()
        app.add_middleware(ActuatorMiddleware, actuator=actuator)

        app = ActuatorMiddleware(app, actuator=actuator)   # any ASGI app

    HTTP requests under the base path are answered by the actuator and never
    reach the app; everything else (other paths, websockets) passes through
    untouched, HTTP requests timed on the way (``metrics`` settings).
    Lifespan messages pass through too, and drive the actuator's lifecycle:
    readiness is INIT until ``lifespan.startup.complete``.

    Parameters:
        app: the ASGI app to wrap.
        actuator: the actuator to serve; a default ``Actuator()`` (settings
            from the environment) when omitted.
    """

    def __init__(self, app: ASGIApp, *, actuator: Actuator | None = None) -> None:
        self.app = app
        self.actuator = actuator if actuator is not None else Actuator()
        self.base_path = self.actuator.settings.base_path
        self._handler: Handler = ActuatorHandler(self.actuator)
        self._http_metrics = self.actuator.metrics.http
        if self._http_metrics is not None and self._http_metrics.include_actuator:
            self._handler = self._http_metrics.instrument_handler(self._handler)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope_type = scope["type"]
        if scope_type == "http":
            actuator = self.actuator
            if not actuator._lifespan_seen and not actuator.started:
                await self._start_without_lifespan()
            subpath = self._subpath(scope)
            if subpath is not None:
                await self._handler(scope, receive, send, subpath)
                return
            if self._http_metrics is not None:
                await self._http_metrics(scope, receive, send, self.app)
                return
        elif scope_type == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _subpath(self, scope: Scope) -> str | None:
        """The path after the base path, or ``None`` when the request is not for the actuator."""
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path):]
        base = self.base_path
        if not path.startswith(base):
            return None
        rest = path[len(base):]
        if rest and rest[0] != "/":
            return None
        return rest

    async def _start_without_lifespan(self) -> None:
        # Servers run the lifespan before accepting requests, so a request that
        # arrives with no lifespan seen means the server runs without one:
        # the app is as started as it will ever be.
        logger.info("No ASGI lifespan seen before the first request: treating the app as started")
        self.actuator.availability.mark_started()
        await self.actuator.startup()

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        actuator = self.actuator
        actuator._lifespan_seen = True
        state: dict[str, Any] = {"startup_received": False, "startup_done": False}

        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["startup_received"] = True
            elif message["type"] == "lifespan.shutdown":
                actuator.availability.begin_shutdown()
            return message

        async def lifespan_send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                state["startup_done"] = True
                await actuator.startup()
                actuator.availability.mark_started()
            elif kind == "lifespan.startup.failed":
                state["startup_done"] = True
                actuator.availability.startup_failed(message.get("message", ""))
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await actuator.shutdown()
                actuator.availability.stopped()
            await send(message)

        try:
            await self.app(scope, lifespan_receive, lifespan_send)
        except BaseException as exc:
            if state["startup_done"] or not isinstance(exc, Exception):
                raise
            # As uvicorn's "auto" mode does: an app that fails before answering
            # startup does not support the lifespan. Run it on the app's behalf
            # so the actuator still sees the app start and stop.
            logger.info("ASGI 'lifespan' appears unsupported by the app (%s: %s); "
                        "the actuator answers it", type(exc).__name__, exc)
            await self._own_lifespan(receive, send, state["startup_received"])

    async def _own_lifespan(self, receive: Receive, send: Send, startup_received: bool) -> None:
        actuator = self.actuator
        if not startup_received:
            await receive()
        await actuator.startup()
        actuator.availability.mark_started()
        await send({"type": "lifespan.startup.complete"})
        while True:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                actuator.availability.begin_shutdown()
                await actuator.shutdown()
                actuator.availability.stopped()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def not_found_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind a standalone actuator: a JSON 404 for anything outside the base path."""
    if scope["type"] == "http":
        path = scope.get("path", "")
        await send_response(send, 404, error_body(404, "Not found", path), "application/json",
                            head=scope.get("method") == "HEAD")
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1000})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
