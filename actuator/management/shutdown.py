"""Graceful shutdown on request: refuse traffic, drain, wait a random jitter, then stop.

A fleet told to stop at once would stop at once; the jitter spreads the stops
over ``shutdown.max_jitter`` seconds. The server is stopped the way SIGTERM
stops it (``actuator.drain.stop_server``): uvicorn finishes its requests, runs
the lifespan shutdown and exits with status 0.

Under ``uvicorn --workers N`` or ``gunicorn -w N`` each worker is a process
of its own, started by a supervisor that starts a replacement for any worker
that exits: stopping one worker does not stop the service, and the answer
says so (which process, and that its supervisor replaces it). With
``shutdown.signal_parent`` the worker sends SIGTERM to its supervisor instead,
which stops every worker gracefully and exits: the whole server stops,
whichever worker was asked. hypercorn's and granian's workers cannot stop
alone (see ``actuator.management.workers``): there a shutdown always signals
the supervisor, and the answer says why.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import secrets
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from actuator.health.availability import Availability
from actuator.management.audit import APP, audit
from actuator.management.drain import stop_server
from actuator.management.workers import Supervisor, supervisor
from actuator.sanitizer import loggable
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
    pid: int = 0
    workers: Supervisor | None = None
    """The supervisor that started this worker (``None``: not a worker)."""
    signal_parent: bool = False

    @property
    def delay(self) -> float:
        return self.drain_period + self.jitter

    @property
    def supervisor(self) -> int | None:
        """The supervisor's pid (``None``: this process is the server)."""
        return None if self.workers is None else self.workers.pid

    @property
    def stops(self) -> str:
        """``server`` (the whole server stops) or ``worker`` (one worker; it is replaced)."""
        if self.workers is None or self.signal_parent or not self.workers.replaces_workers:
            return "server"
        return "worker"

    def to_json(self) -> dict[str, Any]:
        workers = self.workers
        if workers is None:
            message = "Shutting down, bye..."
        elif self.stops == "server":
            why = "" if self.signal_parent else f" ({workers.why_not_alone})"
            message = (
                f"Shutting down the whole server: worker process {self.pid} asks its "
                f"supervisor (process {workers.pid}, {workers.server}) to stop every "
                f"worker{why}, bye..."
            )
        else:
            message = (
                f"Shutting down worker process {self.pid} only: its supervisor (process "
                f"{workers.pid}, {workers.server}) starts a replacement, so the "
                f"service keeps running. Set shutdown.signal_parent to stop the whole "
                f"server."
            )
        process: dict[str, Any] = {
            "pid": self.pid,
            **(workers.to_json() if workers else {"supervisor": None}),
        }
        return {
            "message": message,
            "stops": self.stops,
            "process": process,
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
        plan = ShutdownPlan(
            drain,
            jitter,
            now + datetime.timedelta(seconds=drain + jitter),
            by,
            reason or None,
            pid=os.getpid(),
            workers=supervisor(),
            signal_parent=config.signal_parent,
        )
        self._plan = plan
        self.availability.refuse_traffic(f"shutdown requested by {by}", source=SHUTDOWN_SOURCE)
        audit(
            "shutdown",
            by,
            delay=round(plan.delay, 3),
            stops=plan.stops,
            pid=plan.pid,
            **({"reason": reason} if reason else {}),
        )
        self._task = loop.create_task(self._run(plan), name="actuator-shutdown")
        return plan

    async def _run(self, plan: ShutdownPlan) -> None:
        await asyncio.sleep(plan.delay)
        if plan.stops == "server" and plan.supervisor is not None:
            logger.warning(
                "Shutdown requested by %s: asking the supervisor (process %d) to "
                "stop the whole server",
                loggable(plan.by),
                plan.supervisor,
            )
            os.kill(plan.supervisor, signal.SIGTERM)
            return
        logger.warning(
            "Shutdown requested by %s: asking the %s to stop",
            loggable(plan.by),
            "worker" if plan.supervisor is not None else "server",
        )
        self.stop_server()

    async def stop(self) -> None:
        """Cancel a shutdown still waiting (the app is stopping anyway)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
