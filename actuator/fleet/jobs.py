"""Periodic jobs that run on exactly one console at a time, whatever the number of consoles.

Several ``actuator fleet serve`` processes may share one PostgreSQL database:
each serves the API and ingests, but the periodic jobs (the sweep that marks
silent instances DISCONNECTED and trims history, notifications, ...) must run
on one of them only, or two consoles would mark, trim and notify twice::

    jobs = Jobs(jobs_lock_for(store.dialect), retry=5)
    jobs.add("sweep", 10, console.sweep)          # a coroutine doing one round
    jobs.add("notify", 15, notifier.round)
    await jobs.run()                              # with the console's lifespan

The console holding the *jobs lock* runs every job on its own schedule; the
others stand by and try to take the lock every ``retry`` seconds. On
PostgreSQL the lock is a session-level advisory lock held by a dedicated
connection: when that console dies (even ``kill -9``) its connection closes,
PostgreSQL releases the lock, and a standby takes it at its next try, so jobs
stop for at most ``retry`` seconds plus one job interval. A console whose lock
connection breaks stops running jobs before its next round. On SQLite the lock
is an ``flock`` on a file beside the database, released by the OS when the
process exits: one console on one machine runs the jobs.

Jobs run one after another in one task, so one job never overlaps itself. A
job that raises is logged and runs again at its next turn; it never stops the
others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from actuator.fleet.dialects import Dialect, PostgreSQL, SQLite

logger = logging.getLogger("actuator.fleet")

T = TypeVar("T")

JOBS_LOCK_KEY = 7242002
"""The advisory lock key (next to the schema migration's 7242001)."""


class JobsLock(Protocol):
    """A lock that at most one console process holds; its calls may block (run on a thread)."""

    def acquire(self) -> bool:
        """Take the lock if it is free; ``True`` when this process holds it (also if it did)."""
        ...

    def held(self) -> bool:
        """Whether this process still holds it (``False`` once its connection broke)."""
        ...

    def release(self) -> None: ...

    def describe(self) -> str: ...


class PostgresJobsLock:
    """``pg_try_advisory_lock`` on a connection of its own, kept open while held.

    TCP keepalives on both ends: PostgreSQL ends the session of a console whose
    machine vanished (so its lock frees) within about ``keepalive + 3 * 5``
    seconds; a plain process death closes the socket and frees it at once.
    """

    def __init__(self, dialect: PostgreSQL, keepalive: int = 10) -> None:
        self.dialect = dialect
        self.keepalive = keepalive
        self._conn: Any = None

    def acquire(self) -> bool:
        if self._conn is not None:
            return self.held()
        import psycopg

        try:
            conn = psycopg.connect(
                self.dialect.url,
                autocommit=True,
                connect_timeout=10,
                application_name="actuator-fleet-jobs",
                keepalives=1,
                keepalives_idle=self.keepalive,
                keepalives_interval=5,
                keepalives_count=3,
            )
        except psycopg.OperationalError as exc:
            # psycopg's message names host and port, never the password.
            raise ConnectionError(f"cannot connect to {self.dialect.describe()}: {exc}") from None
        try:
            # The server side of the same keepalives: it notices a vanished console.
            conn.execute(f"SET tcp_keepalives_idle = {int(self.keepalive)}")
            conn.execute("SET tcp_keepalives_interval = 5")
            conn.execute("SET tcp_keepalives_count = 3")
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (JOBS_LOCK_KEY,)).fetchone()
        except Exception:
            conn.close()
            raise
        if row is None or not row[0]:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute("SELECT 1").fetchone()
        except Exception:
            self.release()
            return False
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Closing the session releases its advisory locks.
            with contextlib.suppress(Exception):
                conn.close()

    def describe(self) -> str:
        return f"advisory lock {JOBS_LOCK_KEY} on {self.dialect.describe()}"


class FileJobsLock:
    """An exclusive ``flock`` on ``<database>.jobs-lock``: one console per SQLite file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor releases the flock

    def describe(self) -> str:
        return f"file lock {self.path}"


class ProcessJobsLock:
    """Always held: a database only this process sees (SQLite in memory, tests)."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass

    def describe(self) -> str:
        return "this process alone"


def jobs_lock_for(dialect: Dialect) -> JobsLock:
    """The jobs lock that fits the console's database."""
    if isinstance(dialect, PostgreSQL):
        return PostgresJobsLock(dialect)
    if isinstance(dialect, SQLite) and dialect.path != ":memory:":
        return FileJobsLock(dialect.path + ".jobs-lock")
    return ProcessJobsLock()


@dataclass
class Job:
    name: str
    interval: float
    run: Callable[[], Awaitable[None]]
    due: float = 0.0
    runs: int = 0


class Jobs:
    """Periodic jobs on the one console holding the jobs lock (see the module docstring).

    Parameters:
        lock: the jobs lock (``jobs_lock_for(dialect)``).
        retry: seconds between a standby's tries to take the lock, and at most
            between the leader's checks that it still holds it (default 5).
        clock: a monotonic clock, seconds.
    """

    def __init__(
        self,
        lock: JobsLock,
        *,
        retry: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if retry <= 0:
            raise ValueError(f"jobs retry must be positive, got {retry}")
        self.lock = lock
        self.retry = retry
        self.clock = clock
        self.jobs: dict[str, Job] = {}
        self.leader = False
        self._executor: ThreadPoolExecutor | None = None

    def add(self, name: str, interval: float, run: Callable[[], Awaitable[None]]) -> None:
        """Run ``run()`` (one round of the job) every ``interval`` seconds on the leader.

        The first round comes one ``interval`` after this console takes the lock.
        """
        if name in self.jobs:
            raise ValueError(f"a job named {name!r} is already registered")
        if interval <= 0:
            raise ValueError(f"job {name!r}: interval must be positive, got {interval}")
        self.jobs[name] = Job(name, interval, run)

    def describe(self) -> dict[str, Any]:
        """For the console's health: this console's role and its jobs."""
        return {
            "role": "leader" if self.leader else "standby",
            "lock": self.lock.describe(),
            "jobs": sorted(self.jobs),
        }

    async def run(self) -> None:
        """Forever: take the lock when free, and while held run each job when due."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fleet-jobs-lock")
        try:
            while True:
                await self._step()
                await asyncio.sleep(self._pause())
        finally:
            await self._release()

    async def _step(self) -> None:
        """Take or check the lock, then run the jobs that are due."""
        was_leader = self.leader
        try:
            self.leader = await self._locked(self.lock.held if was_leader else self.lock.acquire)
        except Exception as exc:
            self.leader = False
            logger.warning("fleet jobs lock (%s): %s", self.lock.describe(), exc)
        if self.leader and not was_leader:
            logger.info("this console now runs the fleet jobs (%s)", ", ".join(sorted(self.jobs)))
            now = self.clock()
            for job in self.jobs.values():
                job.due = now + job.interval
        elif was_leader and not self.leader:
            logger.warning("this console lost the fleet jobs lock; another one takes over")
        if not self.leader:
            return
        for job in sorted(self.jobs.values(), key=lambda j: j.due):
            if job.due > self.clock():
                continue
            try:
                await job.run()
            except Exception:
                logger.exception(
                    "fleet job %r failed; it runs again in %ss", job.name, job.interval
                )
            job.runs += 1
            job.due = self.clock() + job.interval

    def _pause(self) -> float:
        if not self.leader or not self.jobs:
            return self.retry
        soonest = min(job.due for job in self.jobs.values()) - self.clock()
        return max(0.0, min(self.retry, soonest))

    async def _locked(self, call: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, call)

    async def _release(self) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # Shielded: a cancelled console still hands the lock over at once.
        with contextlib.suppress(Exception):
            await asyncio.shield(
                asyncio.get_running_loop().run_in_executor(executor, self.lock.release)
            )
        self.leader = False
        executor.shutdown(wait=False)
