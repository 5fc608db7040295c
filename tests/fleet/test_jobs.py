"""The jobs lock: periodic jobs run on exactly one console, and move when it dies."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actuator.fleet.dialects import dialect_for
from actuator.fleet.jobs import (
    FileJobsLock,
    Jobs,
    PostgresJobsLock,
    ProcessJobsLock,
    jobs_lock_for,
)
from tests.support.postgres import PostgresServer


class FakeLock:
    def __init__(self, free: bool = True) -> None:
        self.free = free
        self.mine = False
        self.released = 0

    def acquire(self) -> bool:
        if self.mine or self.free:
            self.mine, self.free = True, False
        return self.mine

    def held(self) -> bool:
        return self.mine

    def release(self) -> None:
        self.released += 1
        if self.mine:
            self.mine, self.free = False, True

    def describe(self) -> str:
        return "fake"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_leader_runs_each_job_when_due():
    clock = Clock()
    jobs = Jobs(FakeLock(), retry=5, clock=clock)
    ran: list[str] = []

    async def sweep() -> None:
        ran.append("sweep")

    async def notify() -> None:
        ran.append("notify")

    jobs.add("sweep", 10, sweep)
    jobs.add("notify", 3, notify)
    await jobs._step()
    assert jobs.leader
    assert ran == []  # the first round comes one interval after taking the lock
    assert jobs._pause() == 3
    clock.now += 3
    await jobs._step()
    assert ran == ["notify"]
    clock.now += 7
    await jobs._step()
    assert ran == ["notify", "notify", "sweep"]  # by due time: notify was due at 106
    assert jobs.describe() == {"role": "leader", "lock": "fake", "jobs": ["notify", "sweep"]}


async def test_standby_runs_nothing_and_takes_over_when_the_lock_frees():
    clock = Clock()
    lock = FakeLock(free=False)
    jobs = Jobs(lock, retry=5, clock=clock)
    ran: list[float] = []

    async def sweep() -> None:
        ran.append(clock.now)

    jobs.add("sweep", 1, sweep)
    for _ in range(3):
        await jobs._step()
        clock.now += 5
    assert not jobs.leader
    assert ran == []
    assert jobs._pause() == 5
    assert jobs.describe()["role"] == "standby"
    lock.free = True  # the leader died
    await jobs._step()
    clock.now += 1
    await jobs._step()
    assert jobs.leader
    assert ran == [clock.now]


async def test_a_leader_that_lost_its_lock_stops_running_jobs():
    clock = Clock()
    lock = FakeLock()
    jobs = Jobs(lock, retry=5, clock=clock)
    ran: list[float] = []

    async def sweep() -> None:
        ran.append(clock.now)

    jobs.add("sweep", 1, sweep)
    await jobs._step()
    lock.mine = False  # its connection broke; another console took the lock
    clock.now += 1
    await jobs._step()
    assert not jobs.leader
    assert ran == []


async def test_a_failing_job_is_logged_and_runs_again(caplog: pytest.LogCaptureFixture):
    clock = Clock()
    jobs = Jobs(FakeLock(), retry=5, clock=clock)
    calls = []

    async def broken() -> None:
        calls.append(clock.now)
        raise RuntimeError("database went away")

    jobs.add("broken", 2, broken)
    await jobs._step()
    for _ in range(2):
        clock.now += 2
        await jobs._step()
    assert len(calls) == 2
    assert "fleet job 'broken' failed" in caplog.text


async def test_a_lock_that_raises_leaves_the_console_standing_by(
    caplog: pytest.LogCaptureFixture,
):
    class Unreachable(FakeLock):
        def acquire(self) -> bool:
            raise ConnectionError("cannot connect to postgresql://fleet@db/fleet")

    jobs = Jobs(Unreachable(), retry=5)
    await jobs._step()
    assert not jobs.leader
    assert "cannot connect" in caplog.text


async def test_run_releases_the_lock_when_cancelled():
    loop = asyncio.get_running_loop()
    taken = asyncio.Event()

    class Signalling(FakeLock):
        def acquire(self) -> bool:
            loop.call_soon_threadsafe(taken.set)
            return super().acquire()

    lock = Signalling()
    jobs = Jobs(lock, retry=0.01)
    task = asyncio.create_task(jobs.run())
    await asyncio.wait_for(taken.wait(), 5)
    await asyncio.sleep(0.05)
    assert jobs.leader
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert lock.released == 1
    assert lock.free
    assert not jobs.leader


def test_bad_job_registrations_are_refused():
    jobs = Jobs(ProcessJobsLock())

    async def noop() -> None:
        pass

    jobs.add("sweep", 1, noop)
    with pytest.raises(ValueError, match="'sweep' is already registered"):
        jobs.add("sweep", 1, noop)
    with pytest.raises(ValueError, match="interval must be positive"):
        jobs.add("other", 0, noop)
    with pytest.raises(ValueError, match="retry must be positive"):
        Jobs(ProcessJobsLock(), retry=0)


def test_the_lock_fits_the_database(tmp_path: Path):
    assert isinstance(jobs_lock_for(dialect_for("postgresql://u@db/fleet")), PostgresJobsLock)
    lock = jobs_lock_for(dialect_for(f"sqlite:///{tmp_path / 'fleet.db'}"))
    assert isinstance(lock, FileJobsLock)
    assert lock.path == str(tmp_path / "fleet.db.jobs-lock")
    assert isinstance(jobs_lock_for(dialect_for("sqlite:///")), ProcessJobsLock)


def test_file_lock_is_held_by_one_holder_at_a_time(tmp_path: Path):
    path = str(tmp_path / "fleet.db.jobs-lock")
    first, second = FileJobsLock(path), FileJobsLock(path)
    assert first.acquire()
    assert first.acquire()  # holding it already
    assert not second.acquire()
    assert first.held()
    assert not second.held()
    first.release()
    assert second.acquire()
    second.release()


def test_postgres_lock_is_held_by_one_session_and_freed_when_it_closes(
    postgres: PostgresServer,
):
    url = postgres.create_database("jobs_lock_1")
    first = PostgresJobsLock(dialect_for(url))  # type: ignore[arg-type]
    second = PostgresJobsLock(dialect_for(url))  # type: ignore[arg-type]
    try:
        assert first.acquire()
        assert first.acquire()
        assert not second.acquire()
        assert first.held()
        assert not second.held()
        first.release()
        assert not first.held()
        assert second.acquire()
    finally:
        first.release()
        second.release()


HOLDER = """
import sys, time
from actuator.fleet.dialects import dialect_for
from actuator.fleet.jobs import PostgresJobsLock
lock = PostgresJobsLock(dialect_for(sys.argv[1]))
print("held" if lock.acquire() else "refused", flush=True)
time.sleep(600)
"""


def test_postgres_lock_frees_at_once_when_its_holder_is_killed(postgres: PostgresServer):
    url = postgres.create_database("jobs_lock_2")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True
    )
    standby = PostgresJobsLock(dialect_for(url))  # type: ignore[arg-type]
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        assert not standby.acquire()
        holder.kill()  # SIGKILL: no goodbye, only the socket closing
        holder.wait(10)
        deadline = time.monotonic() + 5
        while not standby.acquire():
            assert time.monotonic() < deadline, "the lock was not freed within 5 s"
            time.sleep(0.05)
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        standby.release()


def test_postgres_lock_on_an_unreachable_database_says_where_without_the_password():
    lock = PostgresJobsLock(
        dialect_for("postgresql://fleet:s3cret@127.0.0.1:1/fleet")  # type: ignore[arg-type]
    )
    with pytest.raises(ConnectionError, match=r"fleet:\*\*\*@127.0.0.1:1") as caught:
        lock.acquire()
    assert "s3cret" not in str(caught.value)
    assert not lock.held()
