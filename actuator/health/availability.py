"""Application availability: the states behind the liveness, readiness and startup probes."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from actuator.health.result import Health

logger = logging.getLogger("actuator.availability")


class Lifecycle(str, enum.Enum):
    """Where the application is in its life, as seen through the ASGI lifespan."""

    STARTING = "STARTING"
    STARTED = "STARTED"
    FAILED = "FAILED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"


class LivenessState(str, enum.Enum):
    """Whether the app works (``CORRECT``) or needs a restart (``BROKEN``), as in Spring Boot."""

    CORRECT = "CORRECT"
    BROKEN = "BROKEN"


class ReadinessState(str, enum.Enum):
    """Whether the app should get traffic now, as in Spring Boot."""

    ACCEPTING_TRAFFIC = "ACCEPTING_TRAFFIC"
    REFUSING_TRAFFIC = "REFUSING_TRAFFIC"


Listener = Callable[["Availability"], Any]


class Availability:
    """The liveness, readiness and startup state of one application.

    The actuator middleware drives the lifecycle from the ASGI lifespan:
    ``STARTING`` until ``lifespan.startup.complete``, ``FAILED`` on
    ``lifespan.startup.failed``, ``STOPPING`` once shutdown (or a SIGTERM
    drain) begins. The app can add its own say::

        actuator.availability.refuse_traffic("warming caches")
        ...
        actuator.availability.accept_traffic()
        actuator.availability.mark_broken("worker thread died")  # liveness DOWN

    Readiness refusals are kept per ``source`` so that independent reasons
    (the app, a pause, a drain) do not cancel each other.
    """

    def __init__(self) -> None:
        self._lifecycle = Lifecycle.STARTING
        self._failure = ""
        self._broken: str | None = None
        self._refusals: dict[str, str] = {}
        self._listeners: list[Listener] = []
        self._changed_at = time.time()

    # -- reading ---------------------------------------------------------------

    @property
    def lifecycle(self) -> Lifecycle:
        return self._lifecycle

    @property
    def liveness(self) -> LivenessState:
        return LivenessState.CORRECT if self._broken is None else LivenessState.BROKEN

    @property
    def readiness(self) -> ReadinessState:
        ready = self._lifecycle is Lifecycle.STARTED and not self._refusals
        return ReadinessState.ACCEPTING_TRAFFIC if ready else ReadinessState.REFUSING_TRAFFIC

    @property
    def refusals(self) -> MappingProxyType[str, str]:
        """Why readiness refuses traffic, by source (``app``, ``pause``, ``drain``...)."""
        return MappingProxyType(self._refusals)

    def liveness_health(self) -> Health:
        # Liveness ignores startup and dependencies: only an explicit break fails it.
        if self._broken is not None:
            return Health.down(reason=self._broken, state=LivenessState.BROKEN.value)
        return Health.up(state=LivenessState.CORRECT.value)

    def readiness_health(self) -> Health:
        if self._lifecycle is Lifecycle.FAILED:
            return Health.down(reason=self._failure or "application startup failed")
        if self._lifecycle is Lifecycle.STARTING:
            return Health.init(reason="application is starting")
        if self._lifecycle in (Lifecycle.STOPPING, Lifecycle.STOPPED):
            return Health.out_of_service(reason="application is shutting down")
        if self._refusals:
            return Health.out_of_service(
                state=ReadinessState.REFUSING_TRAFFIC.value, reasons=dict(self._refusals)
            )
        return Health.up(state=ReadinessState.ACCEPTING_TRAFFIC.value)

    def startup_health(self) -> Health:
        if self._lifecycle is Lifecycle.FAILED:
            return Health.down(reason=self._failure or "application startup failed")
        if self._lifecycle is Lifecycle.STARTING:
            return Health.init(reason="application is starting")
        return Health.up()

    # -- the app's own say -----------------------------------------------------

    def mark_broken(self, reason: str) -> None:
        """Fail liveness (Kubernetes will restart the container)."""
        self._broken = str(reason) or "broken"
        logger.warning("Liveness marked BROKEN: %s", self._broken)
        self._notify()

    def mark_correct(self) -> None:
        if self._broken is not None:
            self._broken = None
            logger.info("Liveness marked CORRECT")
            self._notify()

    def refuse_traffic(self, reason: str, *, source: str = "app") -> None:
        """Turn readiness OUT_OF_SERVICE until ``accept_traffic(source=...)``."""
        self._refusals[source] = str(reason) or "refusing traffic"
        logger.info("Readiness refusing traffic (%s): %s", source, self._refusals[source])
        self._notify()

    def accept_traffic(self, *, source: str = "app") -> None:
        if self._refusals.pop(source, None) is not None:
            logger.info("Readiness accepting traffic again (%s)", source)
            self._notify()

    def mark_started(self) -> None:
        """Declare startup complete: for servers that run without the ASGI lifespan."""
        if self._lifecycle is Lifecycle.STARTING:
            self._set(Lifecycle.STARTED)

    # -- driven by the lifespan ------------------------------------------------

    def startup_failed(self, message: str) -> None:
        self._failure = message or "application startup failed"
        self._set(Lifecycle.FAILED)

    def begin_shutdown(self) -> None:
        if self._lifecycle in (Lifecycle.STARTING, Lifecycle.STARTED):
            self._set(Lifecycle.STOPPING)

    def stopped(self) -> None:
        self._set(Lifecycle.STOPPED)

    def on_change(self, listener: Listener) -> None:
        """Call ``listener(availability)`` after every change of state."""
        self._listeners.append(listener)

    @property
    def changed_at(self) -> float:
        """Wall-clock time of the last change, as ``time.time()``."""
        return self._changed_at

    def _set(self, lifecycle: Lifecycle) -> None:
        if lifecycle is not self._lifecycle:
            logger.info("Application lifecycle: %s -> %s", self._lifecycle.value, lifecycle.value)
            self._lifecycle = lifecycle
            self._notify()

    def _notify(self) -> None:
        self._changed_at = time.time()
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:
                logger.exception("Availability listener %r failed", listener)
