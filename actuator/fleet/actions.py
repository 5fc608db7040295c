"""Actions on many instances: a canary, then batches, each gated on what the instances report.

::

    request = ActionRequest.model_validate(
        {"action": "pause", "facts": {"team": "orders"}, "canary": 1, "batch": "25%",
         "batch_deadline": 30, "max_failures": 1, "reason": "schema migration"})
    stages = plan(target_ids, request.canary, request.batch)     # [["a"], ["b", "c"], ...]
    runner = ActionRunner(journal, reach)
    runner.start(action_id, request, targets, stages)            # runs in the background

Each instance is acted on through its own actuator (``POST pause``,
``resume``, ``flip``, ``loggers/{name}``, ``shutdown``) with the console's
credentials, then watched until it reports the expected state (paused; not
paused and UP; its logger at the level; back UP as a new process after a
restart) within the stage's deadline. A stage starts when the one before it
is done. The action stops at once, skipping the instances not yet reached,
when more instances failed than ``max_failures`` allows, and any failure in
the canary stops it. Every step is written to the journal as it happens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from actuator.fleet.journal import Journal
from actuator.fleet.model import FACT_KEY, Name, StatusCode
from actuator.fleet.reach import Reach, ReachError, Reply
from actuator.management.log_levels import UnknownLevel, level_name, parse_level
from actuator.sanitizer import loggable

logger = logging.getLogger("actuator.fleet.actions")

ActionName = Literal["pause", "resume", "flip", "loglevel", "shutdown"]
ACTIONS: tuple[str, ...] = ("pause", "resume", "flip", "loglevel", "shutdown")

# The result of one instance in the journal.
PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED, INTERRUPTED = (
    "pending",
    "running",
    "succeeded",
    "failed",
    "skipped",
    "interrupted",
)
RESULTS = (PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED, INTERRUPTED)
# The state of an action.
STATES = ("running", "succeeded", "stopped", "failed")

_SHARE = r"^(100|[1-9][0-9]?)%$"
_LOGGER = r"^(ROOT|[A-Za-z0-9_][A-Za-z0-9_.-]{0,199})$"


class ActionRequest(BaseModel):
    """The body of ``POST /fleet/api/actions`` (see docs/fleet-actions.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: ActionName
    # Which instances: every selector given must match (at least one is required).
    service: list[Name] = Field(default_factory=list, max_length=100)
    group: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{1,64}$")] | None = None
    status: list[StatusCode] = Field(default_factory=list, max_length=20)
    facts: dict[str, Annotated[str, StringConstraints(max_length=200)]] = Field(
        default_factory=dict, max_length=32
    )
    instances: list[Name] = Field(default_factory=list, max_length=10_000)
    # What: the reason (pause, resume, flip, shutdown), the logger and level (loglevel).
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None
    logger: Annotated[str, StringConstraints(pattern=_LOGGER)] = "ROOT"
    level: str | None = None
    restart: bool = True
    # How: stages, deadline, failure limit.
    canary: int = Field(default=1, ge=0, le=1000)
    batch: int | Annotated[str, StringConstraints(pattern=_SHARE)] = "25%"
    batch_deadline: float = Field(default=60.0, gt=0, le=3600)
    max_failures: int | Annotated[str, StringConstraints(pattern=r"^(100|[1-9]?[0-9])%$")] = 0
    dry_run: bool = False

    @field_validator("service", "status", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("facts")
    @classmethod
    def _fact_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not FACT_KEY.match(key):
                raise ValueError(f"fact name {key[:70]!r}: letters, digits, '_', '.', '-'")
        return value

    @field_validator("batch")
    @classmethod
    def _batch(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("a batch is at least 1 instance (or a percentage like '10%')")
        return value

    @field_validator("max_failures")
    @classmethod
    def _failures(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be a count >= 0 or a percentage like '10%'")
        return value

    @field_validator("level")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return level_name(parse_level(value))
        except UnknownLevel as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _complete(self) -> ActionRequest:
        if self.action == "loglevel" and "level" not in self.model_fields_set:
            raise ValueError("loglevel needs 'level' (a level name, or null to reset it)")
        return self

    def has_selection(self) -> bool:
        return bool(self.service or self.group or self.status or self.facts or self.instances)

    def failure_limit(self, total: int) -> int:
        """How many instances may fail before the action stops (more than this stops it)."""
        if isinstance(self.max_failures, int):
            return self.max_failures
        return math.floor(total * int(self.max_failures[:-1]) / 100)

    def what(self) -> str:
        """A short description for logs and the journal: ``loglevel orders.db=DEBUG``."""
        if self.action == "loglevel":
            return f"loglevel {self.logger}={self.level or 'reset'}"
        return self.action


def plan(ids: Sequence[str], canary: int, batch: int | str) -> list[list[str]]:
    """The stages: the canary (the first ``canary`` ids), then batches of the rest.

    A percentage batch is that share of all the targets, rounded up (at least one).

    >>> plan(["a", "b", "c", "d", "e"], 1, 2)
    [['a'], ['b', 'c'], ['d', 'e']]
    >>> plan(["a", "b", "c", "d"], 0, "50%")
    [['a', 'b'], ['c', 'd']]
    """
    size = batch if isinstance(batch, int) else math.ceil(len(ids) * int(batch[:-1]) / 100)
    size = max(1, size)
    stages = [list(ids[:canary])] if canary else []
    rest = list(ids[canary:])
    stages += [rest[i : i + size] for i in range(0, len(rest), size)]
    return [s for s in stages if s]


def stage_names(stages: Sequence[Sequence[str]], canary: int) -> list[str]:
    names = []
    for number in range(len(stages)):
        if canary and number == 0:
            names.append("canary")
        else:
            names.append(f"batch {number if canary else number + 1}")
    return names


@dataclass(frozen=True)
class Target:
    """An instance an action goes to: its id and management URL."""

    id: str
    url: str | None


class Failed(Exception):
    """One instance failed the action; the message says why (it goes in the journal)."""


Check = Callable[[Reach, Target, float], Awaitable[tuple[bool, str]]]


def _message(reply: Reply) -> str:
    if isinstance(reply.body, Mapping) and reply.body.get("message"):
        return loggable(str(reply.body["message"])[:200])
    return f"status {reply.status}"


class _Operation:
    """What one action does on one instance, and how to tell it took effect."""

    expected = "done"

    def __init__(self, request: ActionRequest) -> None:
        self.request = request

    def path(self) -> str:
        return self.request.action

    def body(self) -> dict[str, Any] | None:
        return {"reason": self.request.reason} if self.request.reason else {}

    async def before(self, reach: Reach, target: Target, deadline: float) -> None:
        """Anything to learn before acting (shutdown: which process it is)."""

    def accepted(self, reply: Reply) -> None:
        if reply.status >= 300:
            raise Failed(f"{self.path()} answered {reply.status}: {_message(reply)}")

    async def check(self, reach: Reach, target: Target, deadline: float) -> tuple[bool, str]:
        raise NotImplementedError


class _Pause(_Operation):
    expected = "paused"
    want = True

    async def check(self, reach: Reach, target: Target, deadline: float) -> tuple[bool, str]:
        state = await reach.call(target.id, target.url, "GET", "pause", deadline=deadline)
        paused = isinstance(state.body, Mapping) and state.body.get("paused") is True
        return paused == self.want, "paused" if paused else "running"


class _Resume(_Pause):
    expected = "resumed and UP"
    want = False

    async def check(self, reach: Reach, target: Target, deadline: float) -> tuple[bool, str]:
        done, state = await super().check(reach, target, deadline)
        if not done:
            return False, state
        return await _health_up(reach, target, deadline)


class _Flip(_Pause):
    expected = "flipped"

    def accepted(self, reply: Reply) -> None:
        super().accepted(reply)
        if not isinstance(reply.body, Mapping) or not isinstance(reply.body.get("paused"), bool):
            raise Failed("flip answered without a paused state")
        # Each instance flips its own way: the expected state is what it answered.
        self.want = reply.body["paused"]
        self.expected = "paused" if self.want else "running"


class _LogLevel(_Operation):
    def path(self) -> str:
        return f"loggers/{self.request.logger}"

    def body(self) -> dict[str, Any] | None:
        return {"configuredLevel": self.request.level}

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"{self.request.logger} at {self.request.level or 'its level before'}"

    async def check(self, reach: Reach, target: Target, deadline: float) -> tuple[bool, str]:
        if self.request.level is None:
            return True, f"{self.request.logger} reset"  # the 204 said so; there is no target
        state = await reach.call(target.id, target.url, "GET", self.path(), deadline=deadline)
        level = state.body.get("configuredLevel") if isinstance(state.body, Mapping) else None
        return level == self.request.level, f"{self.request.logger} at {level}"


class _Shutdown(_Operation):
    """A rolling restart: the instance stops, the platform starts it again, it is UP again."""

    expected = "back UP as a new process"

    def __init__(self, request: ActionRequest) -> None:
        super().__init__(request)
        self.process: Any = None
        if not request.restart:
            self.expected = "stopped"

    async def before(self, reach: Reach, target: Target, deadline: float) -> None:
        self.process = await _process(reach, target, deadline)

    async def check(self, reach: Reach, target: Target, deadline: float) -> tuple[bool, str]:
        if not self.request.restart:
            try:
                await reach.call(target.id, target.url, "GET", "ping", deadline=deadline)
            except ReachError as exc:
                if exc.status == 502:
                    return True, "stopped"
                raise
            return False, "still answering"
        up, state = await _health_up(reach, target, deadline)
        if not up:
            return False, state
        process = await _process(reach, target, deadline)
        if process == self.process:
            return False, "UP, not restarted yet"
        return True, "restarted, UP"


async def _health_up(reach: Reach, target: Target, deadline: float) -> tuple[bool, str]:
    health = await reach.call(target.id, target.url, "GET", "health", deadline=deadline)
    status = health.body.get("status") if isinstance(health.body, Mapping) else None
    return status == "UP", f"health {status}"


async def _process(reach: Reach, target: Target, deadline: float) -> Any:
    info = await reach.call(target.id, target.url, "GET", "info", deadline=deadline)
    process = info.body.get("process") if isinstance(info.body, Mapping) else None
    if not isinstance(process, Mapping):
        raise Failed("its info has no process section: cannot tell when it restarted")
    return (process.get("pid"), process.get("startTime"))


_OPERATIONS: dict[str, type[_Operation]] = {
    "pause": _Pause,
    "resume": _Resume,
    "flip": _Flip,
    "loglevel": _LogLevel,
    "shutdown": _Shutdown,
}


class _Stop(asyncio.Event):
    """Set once more instances failed than ``limit``; ``failed`` lists them in order."""

    def __init__(self, limit: int, failed: list[str]) -> None:
        super().__init__()
        self.limit = limit
        self.names = failed

    def failed(self, instance: str) -> None:
        self.names.append(instance)
        if len(self.names) > self.limit:
            self.set()


class ActionRunner:
    """Runs started actions in the background, journaling every step.

    Parameters:
        journal: where actions and per-instance results are stored.
        reach: how to call instances.
        poll_interval: seconds between checks of an instance's state.
        heartbeat: seconds between "still running" marks in the journal; a
            console that died leaves an action whose mark goes stale, and the
            sweep marks it failed (see ``Journal.interrupt_stale``).
        clock: seconds since the epoch.
    """

    def __init__(
        self,
        journal: Journal,
        reach: Reach,
        *,
        poll_interval: float = 1.0,
        heartbeat: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.journal = journal
        self.reach = reach
        self.poll_interval = poll_interval
        self.heartbeat = heartbeat
        self.clock = clock
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(
        self,
        action_id: str,
        request: ActionRequest,
        targets: Sequence[Target],
        stages: list[list[str]],
    ) -> None:
        task = asyncio.get_running_loop().create_task(
            self._run(action_id, request, {t.id: t for t in targets}, stages),
            name=f"fleet-action-{action_id}",
        )
        self._tasks[action_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(action_id, None))

    @property
    def running(self) -> list[str]:
        return list(self._tasks)

    async def stop_all(self, reason: str) -> None:
        """Cancel every running action and journal it as failed with ``reason``."""
        tasks = dict(self._tasks)
        for task in tasks.values():
            task.cancel()
        for action_id, task in tasks.items():
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.journal.finish(action_id, "failed", self.clock(), reason, interrupted=True)

    async def _run(
        self,
        action_id: str,
        request: ActionRequest,
        targets: Mapping[str, Target],
        stages: list[list[str]],
    ) -> None:
        beat = asyncio.get_running_loop().create_task(self._beat(action_id))
        try:
            state, reason = await self._stages(action_id, request, targets, stages)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("fleet action %s failed", action_id)
            state, reason = "failed", f"the console failed: {type(exc).__name__}"
        finally:
            beat.cancel()
        await self.journal.finish(action_id, state, self.clock(), reason, interrupted=False)
        logger.info(
            "fleet action %s (%s) %s%s",
            action_id,
            request.what(),
            state,
            f": {reason}" if reason else "",
        )

    async def _beat(self, action_id: str) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            with contextlib.suppress(Exception):
                await self.journal.beat(action_id, self.clock())

    async def _stages(
        self,
        action_id: str,
        request: ActionRequest,
        targets: Mapping[str, Target],
        stages: list[list[str]],
    ) -> tuple[str, str | None]:
        total = sum(len(s) for s in stages)
        limit = request.failure_limit(total)
        order = {iid: n for n, iid in enumerate(i for stage in stages for i in stage)}
        failed: list[str] = []
        for number, stage in enumerate(stages):
            canary = request.canary > 0 and number == 0
            await self.journal.results(
                action_id, [(iid, RUNNING, None, self.clock()) for iid in stage]
            )
            stop = _Stop(0 if canary else limit, failed)
            await self._stage(action_id, request, [targets[iid] for iid in stage], stop)
            if stop.is_set():
                failed.sort(key=order.__getitem__)  # as the targets are listed, not as they failed
                names = ", ".join(failed[:20]) + (" ..." if len(failed) > 20 else "")
                if canary:
                    return "stopped", f"the canary failed: {names}"
                return "stopped", (
                    f"{len(failed)} of {total} instances failed, more than the limit "
                    f"of {limit}: {names}"
                )
        return "succeeded", None

    async def _stage(
        self, action_id: str, request: ActionRequest, stage: Sequence[Target], stop: _Stop
    ) -> None:
        """Every instance of one stage at once, until all are done or ``stop`` is set."""
        ends = time.monotonic() + request.batch_deadline

        async def one(target: Target) -> None:
            result, detail = await self._one(request, target, ends)
            await self.journal.results(action_id, [(target.id, result, detail, self.clock())])
            if result == FAILED:
                stop.failed(target.id)

        tasks = [asyncio.create_task(one(target)) for target in stage]
        stopper: asyncio.Task[Any] = asyncio.create_task(stop.wait())
        try:
            pending: set[asyncio.Task[Any]] = set(tasks)
            while pending and not stop.is_set():
                _, pending = await asyncio.wait(
                    [*pending, stopper], return_when=asyncio.FIRST_COMPLETED
                )
                pending.discard(stopper)
        finally:
            # Stopping is at once: the instances still being watched are not waited for.
            for task in [*tasks, stopper]:
                task.cancel()
            await asyncio.gather(*tasks, stopper, return_exceptions=True)

    async def _one(self, request: ActionRequest, target: Target, ends: float) -> tuple[str, str]:
        """Act on one instance and wait for its expected state, until ``ends`` (monotonic)."""
        operation = _OPERATIONS[request.action](request)

        def left() -> float:
            seconds = ends - time.monotonic()
            if seconds <= 0:
                raise TimeoutError
            return min(seconds, self.reach.config.timeout)

        last = ""
        try:
            await operation.before(self.reach, target, left())
            reply = await self.reach.call(
                target.id,
                target.url,
                "POST",
                operation.path(),
                body=operation.body(),
                deadline=left(),
            )
            operation.accepted(reply)
            while True:
                try:
                    done, last = await operation.check(self.reach, target, left())
                except ReachError as exc:
                    done, last = False, exc.message  # restarting, or a hiccup: look again
                if done:
                    return SUCCEEDED, last
                await asyncio.sleep(min(self.poll_interval, max(0.0, ends - time.monotonic())))
        except Failed as exc:
            return FAILED, str(exc)
        except ReachError as exc:
            return FAILED, exc.message
        except TimeoutError:
            seconds = f"{request.batch_deadline:g}s"
            where = f" (last seen: {last})" if last else ""
            return FAILED, f"not {operation.expected} within {seconds}{where}"


class ActionsConfig(BaseModel):
    """The ``[actions]`` section of ``fleet.toml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    poll_interval: float = Field(
        default=1.0, gt=0, le=60, description="seconds between checks of an instance's state"
    )
    heartbeat: float = Field(
        default=5.0, gt=0, le=600, description="seconds between a running action's marks"
    )
    stale_after: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="a running action unmarked this long lost its console: marked failed",
    )
    max_targets: int = Field(default=10_000, ge=1, le=100_000, description="instances per action")

    def model_post_init(self, context: Any, /) -> None:
        if self.stale_after <= self.heartbeat:
            raise ValueError("actions.stale_after must be longer than actions.heartbeat")
