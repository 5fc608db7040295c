"""The scheduledtasks endpoint: the app's periodic work, in Spring Boot's four lists.

Python has no ``@Scheduled`` container to ask, so the app tells the actuator
about its periodic work, in one of three ways::

    @actuator.scheduled(fixed_rate=30)          # the actuator runs it, from startup to shutdown
    async def refresh_prices() -> None: ...

    task = actuator.scheduled_tasks.add("shop.jobs.nightly", cron="0 0 3 * * *")
    task.executed(ok=True, next_run=tomorrow_3am)   # a task something else runs reports in

    actuator.scheduled_tasks.add_apscheduler(scheduler)   # APScheduler 3 jobs, read per request

Intervals are answered in milliseconds, as Spring Boot does.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, Literal, TypeVar

from actuator.endpoints._iso import instant
from actuator.endpoints.base import Endpoint, OperationRequest

logger = logging.getLogger("actuator.scheduled")

Kind = Literal["cron", "fixedDelay", "fixedRate", "custom"]
KINDS: tuple[Kind, ...] = ("cron", "fixedDelay", "fixedRate", "custom")
F = TypeVar("F", bound=Callable[..., Any])


class ScheduledTask:
    """One periodic task as the endpoint shows it; report runs with ``started``/``executed``."""

    def __init__(
        self,
        target: str,
        kind: Kind,
        *,
        expression: str | None = None,
        interval: float | None = None,
        initial_delay: float = 0.0,
        trigger: str | None = None,
    ) -> None:
        self.target = target
        self.kind = kind
        self.expression = expression
        self.interval = interval
        self.initial_delay = initial_delay
        self.trigger = trigger
        self.last_execution: dict[str, Any] | None = None
        self.next_execution: float | None = None

    def started(self, *, at: float | None = None) -> None:
        """A run began (Spring's ``STARTED`` status until it ends)."""
        self.last_execution = {
            "time": instant(time.time() if at is None else at),
            "status": "STARTED",
        }

    def executed(
        self,
        *,
        ok: bool = True,
        error: BaseException | None = None,
        at: float | None = None,
        next_run: float | None = None,
    ) -> None:
        """A run ended: ``ok``, or failed with ``error``; ``next_run`` is a Unix timestamp."""
        execution: dict[str, Any] = {
            "time": instant(time.time() if at is None else at),
            "status": "SUCCESS" if ok and error is None else "ERROR",
        }
        if error is not None:
            execution["exception"] = {"type": _qualified(type(error)), "message": str(error)}
        self.last_execution = execution
        if next_run is not None:
            self.next_execution = next_run

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"runnable": {"target": self.target}}
        if self.kind == "cron":
            described["expression"] = self.expression
        elif self.kind == "custom":
            described["trigger"] = self.trigger
        else:
            described["initialDelay"] = round(self.initial_delay * 1000)
            described["interval"] = round((self.interval or 0.0) * 1000)
        if self.next_execution is not None:
            described["nextExecution"] = {"time": instant(self.next_execution)}
        if self.last_execution is not None:
            described["lastExecution"] = dict(self.last_execution)
        return described


class ScheduledTasks:
    """The registry behind ``/actuator/scheduledtasks``; reach it as ``actuator.scheduled_tasks``.

    Tasks made with ``scheduled()`` run on the event loop between the
    actuator's ``start()`` and ``stop()`` (the app's lifespan).
    """

    def __init__(self) -> None:
        self._tasks: list[ScheduledTask] = []
        self._runners: list[tuple[ScheduledTask, Callable[[], Any]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._schedulers: list[Any] = []
        self._started = False
        self._lock = threading.Lock()

    def add(
        self,
        target: str,
        *,
        cron: str | None = None,
        fixed_delay: float | None = None,
        fixed_rate: float | None = None,
        trigger: str | None = None,
        initial_delay: float = 0.0,
    ) -> ScheduledTask:
        """Describe a task the app runs itself; exactly one of ``cron`` (an expression),
        ``fixed_delay``/``fixed_rate`` (seconds) or ``trigger`` (a description)."""
        task = _task(
            target,
            cron=cron,
            fixed_delay=fixed_delay,
            fixed_rate=fixed_rate,
            trigger=trigger,
            initial_delay=initial_delay,
        )
        with self._lock:
            self._tasks.append(task)
        return task

    def scheduled(
        self,
        *,
        fixed_delay: float | None = None,
        fixed_rate: float | None = None,
        initial_delay: float = 0.0,
        name: str | None = None,
    ) -> Callable[[F], F]:
        """Decorate a function (async, or sync: then it runs in a thread) to run periodically.

        ``fixed_rate``: every so many seconds from one start to the next (a late
        run is not made up); ``fixed_delay``: so many seconds after each run
        ends. A failing run is logged and recorded; the schedule goes on.
        """

        def decorate(fn: F) -> F:
            if not callable(fn):
                raise TypeError(f"scheduled() decorates a function, got {type(fn).__name__}")
            task = _task(
                name or _qualified(fn),
                fixed_delay=fixed_delay,
                fixed_rate=fixed_rate,
                initial_delay=initial_delay,
            )
            with self._lock:
                self._tasks.append(task)
                self._runners.append((task, fn))
                started = self._started
            if started:
                self._spawn(task, fn)
            return fn

        return decorate

    def add_apscheduler(self, scheduler: Any) -> None:
        """Show the jobs of an APScheduler 3 scheduler (read on every request)."""
        if not callable(getattr(scheduler, "get_jobs", None)):
            raise TypeError(
                f"expected an APScheduler scheduler (with get_jobs()), "
                f"got {type(scheduler).__name__}"
            )
        with self._lock:
            self._schedulers.append(scheduler)

    def describe(self) -> dict[str, list[dict[str, Any]]]:
        described: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
        with self._lock:
            tasks, schedulers = list(self._tasks), list(self._schedulers)
        for task in tasks:
            described[task.kind].append(task.describe())
        for scheduler in schedulers:
            for job in scheduler.get_jobs():
                task = _apscheduler_job(job)
                described[task.kind].append(task.describe())
        return described

    async def start(self) -> None:
        with self._lock:
            self._started = True
            runners = list(self._runners)
        for task, fn in runners:
            self._spawn(task, fn)

    async def stop(self) -> None:
        with self._lock:
            self._started = False
        running, self._running = list(self._running), set()
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _spawn(self, task: ScheduledTask, fn: Callable[[], Any]) -> None:
        job = asyncio.get_running_loop().create_task(
            _run(task, fn), name=f"actuator-scheduled:{task.target}"
        )
        self._running.add(job)
        job.add_done_callback(self._running.discard)


async def _run(task: ScheduledTask, fn: Callable[[], Any]) -> None:
    loop = asyncio.get_running_loop()
    rate = task.kind == "fixedRate"
    interval = task.interval or 0.0
    due = loop.time() + task.initial_delay
    task.next_execution = time.time() + task.initial_delay
    while True:
        await asyncio.sleep(max(0.0, due - loop.time()))
        started = loop.time()
        task.started()
        error: BaseException | None = None
        try:
            result = fn() if inspect.iscoroutinefunction(fn) else await asyncio.to_thread(fn)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            error = exc
            logger.exception("Scheduled task %s failed", task.target)
        now = loop.time()
        due = max(started + interval, now) if rate else now + interval
        task.executed(error=error, next_run=time.time() + (due - now))


def _task(
    target: str,
    *,
    cron: str | None = None,
    fixed_delay: float | None = None,
    fixed_rate: float | None = None,
    trigger: str | None = None,
    initial_delay: float = 0.0,
) -> ScheduledTask:
    if not isinstance(target, str) or not target.strip():
        raise ValueError(f"a scheduled task needs a non-empty target name, got {target!r}")
    given = {
        k: v
        for k, v in (
            ("cron", cron),
            ("fixed_delay", fixed_delay),
            ("fixed_rate", fixed_rate),
            ("trigger", trigger),
        )
        if v is not None
    }
    if len(given) != 1:
        raise ValueError(
            f"scheduled task {target!r} needs exactly one of cron, fixed_delay, "
            f"fixed_rate or trigger; got {sorted(given) or 'none'}"
        )
    _seconds(initial_delay, "initial_delay", target, allow_zero=True)
    if cron is not None:
        if not isinstance(cron, str) or not cron.strip():
            raise ValueError(f"cron of scheduled task {target!r} must be a non-empty expression")
        return ScheduledTask(target, "cron", expression=cron)
    if trigger is not None:
        return ScheduledTask(target, "custom", trigger=str(trigger))
    if fixed_delay is not None:
        return ScheduledTask(
            target,
            "fixedDelay",
            initial_delay=initial_delay,
            interval=_seconds(fixed_delay, "fixed_delay", target),
        )
    return ScheduledTask(
        target,
        "fixedRate",
        initial_delay=initial_delay,
        interval=_seconds(fixed_rate, "fixed_rate", target),
    )


def _seconds(value: object, label: str, target: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(
            f"{label} of scheduled task {target!r} must be a number of seconds, got {value!r}"
        )
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{label} of scheduled task {target!r} must be > 0, got {value!r}")
    return float(value)


def _apscheduler_job(job: Any) -> ScheduledTask:
    """An APScheduler 3 job as a task: cron and interval triggers map; others are custom."""
    trigger = job.trigger
    kind = type(trigger).__name__
    target = getattr(job, "func_ref", None) or getattr(job, "name", None) or str(job.id)
    task: ScheduledTask
    if kind == "CronTrigger":
        fields = {field.name: str(field) for field in trigger.fields}
        expression = " ".join(
            fields.get(name, "*")
            for name in ("second", "minute", "hour", "day", "month", "day_of_week")
        )
        task = ScheduledTask(str(target), "cron", expression=expression)
    elif kind == "IntervalTrigger":
        # APScheduler's interval runs start to start: Spring's fixed rate.
        task = ScheduledTask(str(target), "fixedRate", interval=trigger.interval.total_seconds())
    else:
        task = ScheduledTask(str(target), "custom", trigger=str(trigger))
    next_run = getattr(job, "next_run_time", None)
    if next_run is not None:
        task.next_execution = next_run.timestamp()
    return task


def _qualified(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


class ScheduledTasksEndpoint(Endpoint):
    """``GET /scheduledtasks``: the app's periodic work, in Spring Boot's shape.

    ::

        {"cron": [{"runnable": {"target": "shop.jobs.nightly"}, "expression": "0 0 3 * * *",
                   "nextExecution": {"time": "2025-05-02T03:00:00.000000Z"}}],
         "fixedDelay": [],
         "fixedRate": [{"runnable": {"target": "shop.prices.refresh_prices"},
                        "initialDelay": 0, "interval": 30000,
                        "lastExecution": {"time": "2025-05-01T09:30:00.002113Z",
                                          "status": "SUCCESS"},
                        "nextExecution": {"time": "2025-05-01T09:30:30.000412Z"}}],
         "custom": []}
    """

    name: ClassVar[str] = "scheduledtasks"
    max_path: ClassVar[int | None] = 0

    def __init__(self, tasks: ScheduledTasks) -> None:
        self.tasks = tasks

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        return self.tasks.describe()
