"""The ASGI lifespan conversation, and what the actuator does when the app starts and stops.

As uvicorn's ``LifespanOn`` owns the lifespan for a server, ``ActuatorLifespan``
owns it for the actuator: the middleware hands it every ``lifespan`` scope
and the first request, and delegates nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from actuator._background import BackgroundWork
    from actuator.health.availability import Availability
    from actuator.servers.management_server import ManagementServer

logger = logging.getLogger("actuator")


class ActuatorLifespan:
    """Follows the app's lifespan: background work and probes track the app's start and stop.

    When the app has started (``lifespan.startup.complete``, or a first request
    on a server that runs no lifespan) the background work starts and readiness
    and startup turn UP; when it stops, both stop and readiness turns
    OUT_OF_SERVICE. A management server listens before the app's startup code
    runs, so probes see INIT meanwhile, and stops with the app.

    Parameters:
        background: the actuator's background work.
        availability: liveness, readiness and startup states.
        management_server: the separate management port, if any.
    """

    def __init__(
        self,
        background: BackgroundWork,
        availability: Availability,
        management_server: ManagementServer | None,
    ) -> None:
        self.background = background
        self.availability = availability
        self.management_server = management_server
        self.seen = False
        """Whether the server ran the lifespan (then the first request proves nothing)."""
        self.on_startup_message: Callable[[], None] = lambda: None
        """Called when the server sends ``lifespan.startup`` (the start-up timeline)."""

    async def on_first_request(self) -> None:
        """Servers run the lifespan before accepting requests, so a request that
        arrives with no lifespan seen means the server runs without one: the app
        is as started as it will ever be."""
        if self.seen or self.background.running:
            return
        logger.info("No ASGI lifespan seen before the first request: treating the app as started")
        await self.app_started()
        if self.management_server is not None:
            await self.management_server.start()

    async def app_started(self) -> None:
        """The app has started: background work on, readiness and startup UP."""
        await self.background.start()
        self.availability.mark_started()

    async def app_stopped(self) -> None:
        """The app has stopped: background work and the management server off."""
        await self.background.stop()
        self.availability.stopped()
        await self._stop_management_server()

    async def __call__(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        """Run ``app``'s lifespan, watching (and if need be answering) its messages."""
        self.seen = True
        state: dict[str, Any] = {"startup_received": False, "startup_done": False}
        availability = self.availability
        management = self.management_server
        if management is not None:
            # Listen before the app's startup code runs, so probes see INIT meanwhile.
            first = await receive()
            if first["type"] == "lifespan.startup":
                try:
                    await management.start()
                except Exception as exc:
                    logger.error("Management server failed to start: %s", exc)
                    availability.startup_failed(str(exc))
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
            receive = _replay(first, receive)

        async def lifespan_receive() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["startup_received"] = True
                self.on_startup_message()
            elif message["type"] == "lifespan.shutdown":
                availability.begin_shutdown()
            return message

        async def lifespan_send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                state["startup_done"] = True
                await self.app_started()
            elif kind == "lifespan.startup.failed":
                state["startup_done"] = True
                availability.startup_failed(_failure_reason(message.get("message", "")))
                await self._stop_management_server()
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                await self.app_stopped()
            await send(message)

        try:
            await app(scope, lifespan_receive, lifespan_send)
        except BaseException as exc:
            if state["startup_done"] or not isinstance(exc, Exception):
                raise
            # As uvicorn's "auto" mode does: an app that fails before answering
            # startup does not support the lifespan. Run it on the app's behalf
            # so the actuator still sees the app start and stop.
            logger.info(
                "ASGI 'lifespan' appears unsupported by the app (%s: %s); the actuator answers it",
                type(exc).__name__,
                exc,
            )
            await self._answer(receive, send, state["startup_received"])
        else:
            if not state["startup_done"]:
                # A bare app that ignores scopes it does not know (``if scope["type"]
                # == "http": ...``) returns at once: the same case, quietly.
                logger.info(
                    "The app returned from ASGI 'lifespan' without answering startup; "
                    "the actuator answers it"
                )
                await self._answer(receive, send, state["startup_received"])

    async def _answer(self, receive: Receive, send: Send, startup_received: bool) -> None:
        """The lifespan on behalf of an app that does not speak it."""
        if not startup_received:
            await receive()
        await self.app_started()
        await send({"type": "lifespan.startup.complete"})
        while True:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                self.availability.begin_shutdown()
                await self.app_stopped()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _stop_management_server(self) -> None:
        if self.management_server is not None:
            await self.management_server.stop()


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


def _replay(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
