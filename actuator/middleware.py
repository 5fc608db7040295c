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

    With a management server (``management_server.enabled``), the base path
    is served on the management port only: here it passes through to the app.

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
        self._serves = self.actuator.management_server is None
        if app is not not_found_app:
            self.actuator.host_app = app  # what /mappings describes
            self.app = self.actuator.record_http_exchanges(app)
        self._http_metrics = self.actuator.metrics.http
        if self._http_metrics is not None and self._http_metrics.include_actuator:
            self._handler = self._http_metrics.instrument_handler(self._handler)
        self._pause = self.actuator.pause_control
        # Until the lifespan or a first request has started the actuator, every
        # request checks whether it must; after that, one attribute test.
        self._awaiting_start = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The pass-through path runs for every request of the app: keep it to a
        # few attribute tests and no extra coroutine.
        if scope["type"] == "http":
            if self._awaiting_start:
                await self._ensure_started()
            # A substring test rejects app paths cheaply: an actuator path holds
            # the base path whatever root_path precedes it.
            if self._serves and self.base_path in scope["path"]:
                subpath = subpath_of(scope, self.actuator)
                if subpath is not None:
                    await self._handler(scope, receive, send, subpath)
                    return
            if self._http_metrics is not None:
                app = self._serve_app if self._pause.paused else self.app
                await self._http_metrics(scope, receive, send, app)
                return
            if self._pause.paused and await self._pause.refuse(scope, send):
                return
        elif scope["type"] == "lifespan":
            self._awaiting_start = False
            await self._lifespan(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _serve_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An app request as the metrics time it: refused while paused, else the app's."""
        if self._pause.paused and await self._pause.refuse(scope, send):
            return
        await self.app(scope, receive, send)

    async def _ensure_started(self) -> None:
        actuator = self.actuator
        if not actuator._lifespan_seen and not actuator.started:
            await self._start_without_lifespan()
        self._awaiting_start = False

    async def _start_without_lifespan(self) -> None:
        # Servers run the lifespan before accepting requests, so a request that
        # arrives with no lifespan seen means the server runs without one:
        # the app is as started as it will ever be.
        logger.info("No ASGI lifespan seen before the first request: treating the app as started")
        await self._app_started()
        if self.actuator.management_server is not None:
            await self.actuator.management_server.start()

    async def _app_started(self) -> None:
        """The app has started: background work on, readiness and startup UP."""
        await self.actuator.startup()
        self.actuator.availability.mark_started()

    async def _app_stopped(self) -> None:
        """The app has stopped: background work and the management server off."""
        await self.actuator.shutdown()
        self.actuator.availability.stopped()
        await _stop_management(self.actuator)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        actuator = self.actuator
        actuator._lifespan_seen = True
        state: dict[str, Any] = {"startup_received": False, "startup_done": False}
        management = actuator.management_server
        if management is not None:
            # Listen before the app's startup code runs, so probes see INIT meanwhile.
            first = await receive()
            if first["type"] == "lifespan.startup":
                try:
                    await management.start()
                except Exception as exc:
                    logger.error("Management server failed to start: %s", exc)
                    actuator.availability.startup_failed(str(exc))
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
            receive = _replay(first, receive)

        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["startup_received"] = True
                actuator.startup_timeline.lifespan_started()
            elif message["type"] == "lifespan.shutdown":
                actuator.availability.begin_shutdown()
            return message

        async def lifespan_send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                state["startup_done"] = True
                await self._app_started()
            elif kind == "lifespan.startup.failed":
                state["startup_done"] = True
                actuator.availability.startup_failed(_failure_reason(message.get("message", "")))
                await _stop_management(actuator)
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self._app_stopped()
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
        else:
            if not state["startup_done"]:
                # A bare app that ignores scopes it does not know (``if scope["type"]
                # == "http": ...``) returns at once: the same case, quietly.
                logger.info("The app returned from ASGI 'lifespan' without answering startup; "
                            "the actuator answers it")
                await self._own_lifespan(receive, send, state["startup_received"])

    async def _own_lifespan(self, receive: Receive, send: Send, startup_received: bool) -> None:
        if not startup_received:
            await receive()
        await self._app_started()
        await send({"type": "lifespan.startup.complete"})
        while True:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.actuator.availability.begin_shutdown()
                await self._app_stopped()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _failure_reason(message: str) -> str:
    """The reason a startup failed, without the traceback Starlette sends as the message.

    Readiness shows the reason to whoever may see details; a traceback is for
    the server log (the server logs the whole message), never for an answer.
    """
    text = str(message).strip()
    if text.startswith("Traceback (most recent call last):"):
        lines = [line for line in text.splitlines() if line.strip()]
        return lines[-1].strip()
    return text


def subpath_of(scope: Scope, actuator: Actuator) -> str | None:
    """The path after the base path, or ``None`` when the request is not for the actuator."""
    path: str = scope["path"]
    # Servers differ: some put root_path in front of path (as the ASGI spec now says),
    # some do not. Strip it only as a whole prefix: root_path "/act" is not in "/actuator".
    root_path: str = scope.get("root_path", "").rstrip("/")
    if root_path and (path == root_path or path.startswith(root_path + "/")):
        path = path[len(root_path):]
    base = actuator.settings.base_path
    if not path.startswith(base):
        return None
    rest = path[len(base):]
    if rest and rest[0] != "/":
        return None
    if not base:
        # Endpoints at the root (base_path "/"): the app keeps every other path,
        # and there is no discovery page, as in Spring Boot.
        name = rest[1:].split("/", 1)[0]
        if not name or actuator.exposed_endpoint(name) is None:
            return None
    return rest


def _replay(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _stop_management(actuator: Actuator) -> None:
    if actuator.management_server is not None:
        await actuator.management_server.stop()


class ManagementApp:
    """The actuator alone, as the management server serves it: its base path, 404 elsewhere.

    It takes no part in the lifespan: the app's lifespan, seen by the
    middleware on the app's port, drives the actuator.
    """

    def __init__(self, actuator: Actuator) -> None:
        self.actuator = actuator
        self.base_path = actuator.settings.base_path
        self._handler = ActuatorHandler(actuator)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            subpath = subpath_of(scope, self.actuator)
            if subpath is not None:
                await self._handler(scope, receive, send, subpath)
                return
        await not_found_app(scope, receive, send)


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
