"""The actuator middleware: serves the base path, hands the lifespan on, passes the rest through."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.types import ASGIApp, Receive, Scope, Send

from actuator._handler import subpath_of
from actuator.metrics.http import Handler

if TYPE_CHECKING:
    from actuator.endpoints.registry import EndpointRegistry
    from actuator.lifespan import ActuatorLifespan
    from actuator.management.pause import PauseControl
    from actuator.metrics.http import HttpServerMetrics


class Middleware:
    """The pure ASGI middleware behind ``ActuatorMiddleware``, given the parts it uses.

    HTTP requests under the base path are answered by ``handler`` and never
    reach the app; everything else (other paths, websockets) passes through
    untouched, HTTP requests timed on the way by ``http_metrics`` and refused
    while ``pause`` says so. Lifespan messages go to ``lifespan``, which
    drives the actuator's lifecycle. ``serves`` is ``False`` when a management
    server serves the base path instead: then it passes through to the app.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        handler: Handler,
        endpoints: EndpointRegistry,
        base_path: str,
        serves: bool,
        pause: PauseControl,
        http_metrics: HttpServerMetrics | None,
        lifespan: ActuatorLifespan,
    ) -> None:
        self.app = app
        self.base_path = base_path
        self._endpoints = endpoints
        self._handler = handler
        self._serves = serves
        self._http_metrics = http_metrics
        if http_metrics is not None and http_metrics.include_actuator:
            self._handler = http_metrics.instrument_handler(handler)
        self._pause = pause
        self._lifespan = lifespan
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
                subpath = subpath_of(scope, self.base_path, self._endpoints)
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
            await self._lifespan(self.app, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _serve_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An app request as the metrics time it: refused while paused, else the app's."""
        if self._pause.paused and await self._pause.refuse(scope, send):
            return
        await self.app(scope, receive, send)

    async def _ensure_started(self) -> None:
        await self._lifespan.on_first_request()
        self._awaiting_start = False
