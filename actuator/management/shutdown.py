"""Graceful shutdown on request: refuse traffic, drain, wait a random jitter, then stop.

A fleet told to stop at once would stop at once; the jitter spreads the stops
over ``shutdown.max_jitter`` seconds. The server is stopped the way SIGTERM
stops it (``actuator.drain.stop_server``): uvicorn finishes its requests, runs
the lifespan shutdown and exits with status 0.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actuator.health.availability import Availability
from actuator.management.audit import APP, audit
from actuator.management.drain import stop_server
from actuator.settings import ActuatorSettings

logger = logging.getLogger("actuator.shutdown")

SHUTDOWN_SOURCE = "shutdown"
"""The readiness refusal source a requested shutdown uses."""


@dataclass(frozen=True)
class ShutdownPlan:
    """When the server will be asked to stop: after ``drain_period`` + ``jitter`` seconds."""

    drain_period: float
    jitter: float
    at: datetime.datetime
    by: str
    reason: str | None = None

    @property
    def delay(self) -> float:
        return self.drain_period + self.jitter

    def to_json(self) -> dict[str, Any]:
        return {
            "message": "Shutting down, bye...",
            "delay": round(self.delay, 3),
            "drainPeriod": self.drain_period,
            "jitter": round(self.jitter, 3),
            "at": self.at.isoformat(timespec="milliseconds"),
            "by": self.by,
            "reason": self.reason,
        }


class ShutdownControl:
    """Schedules a graceful stop of the server; reach it as ``actuator.request_shutdown()``.

    Parameters:
        availability: whose readiness turns OUT_OF_SERVICE at once.
        settings: ``shutdown.drain_period`` (default: ``drain_period``) and
            ``shutdown.max_jitter``.

    ``stop_server`` is what finally asks the server to stop; replace it to
    stop something else (a test, an embedded server).
    """

    def __init__(self, availability: Availability, settings: ActuatorSettings) -> None:
        self.availability = availability
        self.settings = settings
        self.stop_server: Callable[[], None] = stop_server
        self._plan: ShutdownPlan | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def plan(self) -> ShutdownPlan | None:
        """The scheduled shutdown, or ``None``."""
        return self._plan

    def request(self, reason: str = "", *, by: str = APP) -> ShutdownPlan:
        """Schedule the shutdown and return its plan; once scheduled, the same plan again.

        Must run on the server's event loop.
        """
        if self._plan is not None:
            return self._plan
        loop = asyncio.get_running_loop()
        config = self.settings.shutdown
        drain = self.settings.drain_period if config.drain_period is None else config.drain_period
        jitter = secrets.SystemRandom().uniform(0, config.max_jitter) if config.max_jitter else 0.0
        now = datetime.datetime.now(datetime.timezone.utc)
        plan = ShutdownPlan(drain, jitter, now + datetime.timedelta(seconds=drain + jitter), by,
                            reason or None)
        self._plan = plan
        self.availability.refuse_traffic(f"shutdown requested by {by}", source=SHUTDOWN_SOURCE)
        audit("shutdown", by, delay=round(plan.delay, 3), **({"reason": reason} if reason else {}))
        self._task = loop.create_task(self._run(plan), name="actuator-shutdown")
        return plan

    async def _run(self, plan: ShutdownPlan) -> None:
        await asyncio.sleep(plan.delay)
        logger.warning("Shutdown requested by %s: asking the server to stop", plan.by)
        self.stop_server()

    async def stop(self) -> None:
        """Cancel a shutdown still waiting (the app is stopping anyway)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
