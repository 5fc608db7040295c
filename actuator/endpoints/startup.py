"""The startup endpoint: how the process got to serving, as a timeline of steps.

Steps the actuator records, in Spring Boot's ``StartupStep`` shape:

- ``application.import``: from the process start (``/proc``) to the moment the
  ``Actuator`` was created: interpreter start-up and the app's imports up to there.
- ``asgi.server.start``: from then to the ASGI ``lifespan.startup`` message
  (the server's own set-up, and imports after the actuator was made).
- ``asgi.lifespan.startup``: the app's lifespan start-up code, until it
  answered ``lifespan.startup.complete``. Steps the app records meanwhile
  (``actuator.startup_step("db.migrate")``) are its children.
- ``actuator.health.first-check``: every indicator run once right after
  start-up (while the endpoint is exposed and ``startup.first_health_check``),
  with one ``actuator.health.indicator`` child per indicator tagged with its
  name and status.

Without a lifespan (a server run with ``--lifespan off``) the actuator starts
on the first request: ``asgi.server.start`` then ends there.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from actuator.endpoints._iso import duration, instant
from actuator.endpoints.base import Endpoint, OperationRequest

if TYPE_CHECKING:
    from actuator.health.checker import HealthCheck, HealthChecker

_current: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "actuator_startup_step", default=None
)


@dataclass(frozen=True)
class StartupEvent:
    id: int
    name: str
    parent_id: int | None
    tags: tuple[tuple[str, str], ...]
    start: float
    end: float

    def describe(self) -> dict[str, Any]:
        return {
            "startupStep": {
                "name": self.name,
                "id": self.id,
                "parentId": self.parent_id,
                "tags": [{"key": k, "value": v} for k, v in self.tags],
            },
            "startTime": instant(self.start),
            "endTime": instant(self.end),
            "duration": duration(self.end - self.start),
        }


class StartupTimeline:
    """The recorded steps; reach it as ``actuator.startup_timeline``.

    Parameters:
        process_start: Unix time the process started.
        created: Unix time the actuator was created.
    """

    def __init__(self, process_start: float, created: float) -> None:
        self.process_start = process_start
        self.created = created
        self._events: list[StartupEvent] = []
        self._ids = 0
        self._lock = threading.Lock()
        self._lifespan: tuple[int, float] | None = None
        self._started = False
        self.record(
            "application.import",
            min(process_start, created),
            created,
            tags={"note": "interpreter start-up and imports until the Actuator was created"},
        )

    def next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    def record(
        self,
        name: str,
        start: float,
        end: float,
        *,
        parent_id: int | None = None,
        tags: Mapping[str, object] = {},
        step_id: int | None = None,
    ) -> int:
        """Record a finished step (Unix times); its id."""
        step_id = self.next_id() if step_id is None else step_id
        event = StartupEvent(
            step_id, name, parent_id, tuple((str(k), str(v)) for k, v in tags.items()), start, end
        )
        with self._lock:
            self._events.append(event)
        return step_id

    @contextlib.contextmanager
    def step(self, name: str, **tags: object) -> Iterator[None]:
        """Time a block as a step: ``with actuator.startup_step("db.migrate", db="orders"):``.

        A step inside another step (or inside the lifespan start-up) is its child.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a startup step needs a non-empty name, got {name!r}")
        parent = _current.get()
        if parent is None and self._lifespan is not None:
            parent = self._lifespan[0]
        step_id = self.next_id()
        token = _current.set(step_id)
        start = time.time()
        try:
            yield
        finally:
            _current.reset(token)
            self.record(name, start, time.time(), parent_id=parent, tags=tags, step_id=step_id)

    def lifespan_started(self) -> None:
        """The server sent ``lifespan.startup``: the app's start-up code begins."""
        now = time.time()
        with self._lock:
            if self._lifespan is not None or self._started:
                return
        self.record("asgi.server.start", self.created, now)
        self._lifespan = (self.next_id(), now)

    def started(self) -> None:
        """The app has started (lifespan complete, or the first request without one)."""
        now = time.time()
        with self._lock:
            if self._started:
                return
            self._started = True
        if self._lifespan is None:
            self.record("asgi.server.start", self.created, now, tags={"lifespan": "none"})
            return
        step_id, start = self._lifespan
        self._lifespan = None
        self.record("asgi.lifespan.startup", start, now, step_id=step_id)

    def describe(self, *, drain: bool = False) -> dict[str, Any]:
        """``{"timeline": {"startTime", "events"}}``; ``drain`` empties the buffer as well."""
        with self._lock:
            events = list(self._events)
            if drain:
                self._events = []
        return {
            "timeline": {
                "startTime": instant(self.process_start),
                "events": [event.describe() for event in events],
            }
        }


class StartupEndpoint(Endpoint):
    """``GET /startup`` answers the steps recorded so far; ``POST /startup`` drains them.

    ::

        {"timeline": {"startTime": "2025-05-01T09:29:58.120000Z", "events": [
            {"startupStep": {"name": "asgi.lifespan.startup", "id": 3, "parentId": null,
                             "tags": []},
             "startTime": "2025-05-01T09:29:59.402113Z",
             "endTime": "2025-05-01T09:29:59.981026Z", "duration": "PT0.578913S"}]}}

    Parameters:
        timeline: the recorded steps.
        checker: runs the first health check (``None``: no first check).
        checks: the indicators' checks, read at start-up.
        deadline: seconds the first check may take.
    """

    name: ClassVar[str] = "startup"
    max_path: ClassVar[int | None] = 0

    def __init__(
        self,
        timeline: StartupTimeline,
        *,
        checker: HealthChecker | None = None,
        checks: Callable[[], Iterable[HealthCheck]] = tuple,
        deadline: float = 1.0,
    ) -> None:
        self.timeline = timeline
        self.checker = checker
        self.checks = checks
        self.deadline = deadline
        self._first_check: asyncio.Task[None] | None = None

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        return self.timeline.describe()

    async def write(self, request: OperationRequest) -> dict[str, Any]:
        return self.timeline.describe(drain=True)

    async def startup(self) -> None:
        self.timeline.started()
        if self.checker is not None and self._first_check is None:
            self._first_check = asyncio.get_running_loop().create_task(
                self._first_health_check(self.checker), name="actuator-startup-first-check"
            )

    async def shutdown(self) -> None:
        task, self._first_check = self._first_check, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _first_health_check(self, checker: HealthChecker) -> None:
        timeline = self.timeline
        parent = timeline.next_id()
        start = time.time()

        async def timed(check: HealthCheck) -> None:
            began = time.time()
            results = await checker.collect([check], self.deadline)
            status = results[check].status.code if check in results else "UNKNOWN"
            timeline.record(
                "actuator.health.indicator",
                began,
                time.time(),
                parent_id=parent,
                tags={"name": check.path, "status": status},
            )

        await asyncio.gather(*(timed(check) for check in self.checks()))
        timeline.record("actuator.health.first-check", start, time.time(), step_id=parent)
