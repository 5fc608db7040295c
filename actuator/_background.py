"""The actuator's background work: hooks, endpoint start-up, health refreshers and the drain.

Started when the app has started and stopped when it stops (``ActuatorLifespan``
decides when); this never starts or stops the server itself.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from actuator.health.checker import HealthCheck, HealthChecker

if TYPE_CHECKING:
    from actuator.endpoints.registry import EndpointRegistry
    from actuator.health.availability import Availability
    from actuator.health.service import HealthService
    from actuator.management.drain import SignalDrain

logger = logging.getLogger("actuator")


class BackgroundWork:
    """Starts and stops, in order, everything that runs beside the app.

    On ``start()``: every watched object's ``start()`` (indicators and
    contributors that have one, the pause and shutdown controls), every
    endpoint's ``startup()``, the background refresh of health checks with an
    ``interval``, and the SIGTERM drain when ``drain_period`` is set. ``stop()``
    undoes them in reverse. Both are idempotent.

    Parameters:
        health: the indicators whose checks are refreshed.
        checker: runs the refreshers.
        endpoints: the endpoints to start and stop.
        availability: what the drain marks OUT_OF_SERVICE.
        drain_period: seconds of drain after SIGTERM (0: no drain).
    """

    def __init__(
        self,
        health: HealthService,
        checker: HealthChecker,
        endpoints: EndpointRegistry,
        availability: Availability,
        drain_period: float,
    ) -> None:
        self.health = health
        self.checker = checker
        self.endpoints = endpoints
        self.availability = availability
        self.drain_period = drain_period
        self._hooks: list[object] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        self._drain: SignalDrain | None = None

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        for hook in self._hooks:
            await _call_hook(hook, "start")
        for endpoint in self.endpoints.all.values():
            await endpoint.startup()
        self.checker.start_refreshing(self.health.checks())
        if self.drain_period > 0:
            from actuator.management.drain import SignalDrain

            self._drain = SignalDrain(self.availability, self.drain_period)
            self._drain.install()

    async def stop(self) -> None:
        if not self._running:
            return
        self._running = False
        if self._drain is not None:
            self._drain.uninstall()
            self._drain = None
        await self.checker.stop()
        for endpoint in reversed(list(self.endpoints.all.values())):
            await _quietly(endpoint.shutdown())
        for hook in reversed(self._hooks):
            await _call_hook(hook, "stop")

    def watch(self, obj: object, checks: Iterable[HealthCheck] = ()) -> None:
        """Start and stop ``obj`` (and a mapping's members) with the app, if it has
        ``start``/``stop``; refresh ``checks``. Added while running: started now."""
        self._remember(obj)
        if self._running:
            self.checker.start_refreshing(checks)

    def unwatch(self, obj: object, checks: Iterable[HealthCheck] = ()) -> None:
        """Undo ``watch``: stopped now if the app is running."""
        if self._running:
            self.checker.stop_refreshing(checks)
        self._forget(obj)

    def _remember(self, obj: object) -> None:
        if isinstance(obj, Mapping):
            for member in obj.values():
                self._remember(member)
        elif callable(getattr(obj, "start", None)) or callable(getattr(obj, "stop", None)):
            self._hooks.append(obj)
            if self._running:
                # Registered after startup: start it now, on the running loop if any.
                self._spawn(_call_hook(obj, "start"))

    def _forget(self, obj: object) -> None:
        if isinstance(obj, Mapping):
            for member in obj.values():
                self._forget(member)
            return
        if not any(hook is obj for hook in self._hooks):
            return
        self._hooks = [hook for hook in self._hooks if hook is not obj]
        if self._running:
            self._spawn(_call_hook(obj, "stop"))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # Keep a reference: the loop holds tasks weakly, and a lost one may never finish.
        try:
            task = asyncio.get_running_loop().create_task(coroutine)
        except RuntimeError:
            coroutine.close()  # no running loop: nothing to start or stop on
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _call_hook(obj: object, method: str) -> None:
    fn = getattr(obj, method, None)
    if not callable(fn):
        return
    try:
        result = fn()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("%s.%s() failed", type(obj).__name__, method)


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("Actuator shutdown step failed")
