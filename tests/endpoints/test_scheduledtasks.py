from __future__ import annotations

import asyncio
import datetime
import re
import time
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

from actuator import Actuator
from actuator.endpoints._iso import parse_instant
from tests.support.asgi import Lifespan, RecordingApp
from tests.support.management import make_actuator, serve

INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


def nightly() -> None:
    """A job for APScheduler."""


async def test_registered_tasks_show_in_springs_four_lists() -> None:
    actuator = make_actuator()
    nightly_task = actuator.scheduled_tasks.add("shop.jobs.nightly", cron="0 0 3 * * *")
    actuator.scheduled_tasks.add("shop.jobs.purge", fixed_delay=5, initial_delay=1.5)
    actuator.scheduled_tasks.add("shop.jobs.mail", trigger="when the queue has 100 mails")
    nightly_task.executed(ok=False, error=ValueError("no disk"), next_run=1_900_000_000)
    async with serve(actuator) as http:
        body = (await http.get("/actuator/scheduledtasks")).json()
    assert set(body) == {"cron", "fixedDelay", "fixedRate", "custom"}
    cron = body["cron"][0]
    assert cron["runnable"] == {"target": "shop.jobs.nightly"}
    assert cron["expression"] == "0 0 3 * * *"
    assert cron["nextExecution"] == {"time": "2030-03-17T17:46:40.000000Z"}
    assert cron["lastExecution"]["status"] == "ERROR"
    assert cron["lastExecution"]["exception"] == {
        "type": "builtins.ValueError",
        "message": "no disk",
    }
    assert body["fixedDelay"] == [
        {"runnable": {"target": "shop.jobs.purge"}, "initialDelay": 1500, "interval": 5000}
    ]
    assert body["custom"] == [
        {"runnable": {"target": "shop.jobs.mail"}, "trigger": "when the queue has 100 mails"}
    ]
    assert body["fixedRate"] == []


async def test_a_scheduled_coroutine_runs_from_startup_and_records_its_runs() -> None:
    actuator = make_actuator()
    runs: list[float] = []

    @actuator.scheduled(fixed_rate=0.05)
    async def refresh() -> None:
        runs.append(time.monotonic())

    lifespan = Lifespan(actuator.wrap(RecordingApp()))
    await lifespan.startup()
    try:
        for _ in range(100):
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.02)
        async with serve(actuator) as http:
            body = (await http.get("/actuator/scheduledtasks")).json()
    finally:
        await lifespan.shutdown()
    count = len(runs)
    await asyncio.sleep(0.15)
    assert len(runs) == count, "the task kept running after shutdown"
    task = body["fixedRate"][0]
    assert task["runnable"]["target"].endswith("refresh")
    assert task["interval"] == 50
    assert task["lastExecution"]["status"] == "SUCCESS"
    assert INSTANT.match(task["lastExecution"]["time"])
    last = parse_instant(task["lastExecution"]["time"])
    assert parse_instant(task["nextExecution"]["time"]) > last


async def test_a_failing_run_is_recorded_and_the_schedule_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    actuator = make_actuator()
    calls: list[int] = []

    @actuator.scheduled(fixed_delay=0.01, name="flaky")
    def flaky() -> None:  # sync: runs in a thread
        calls.append(1)
        raise RuntimeError("downstream is down")

    await actuator.startup()
    try:
        for _ in range(200):  # a run may be under way (STARTED) when we look: look again
            described = actuator.scheduled_tasks.describe()["fixedDelay"][0]
            if len(calls) >= 2 and described["lastExecution"]["status"] == "ERROR":
                break
            await asyncio.sleep(0.02)
    finally:
        await actuator.shutdown()
    assert len(calls) >= 2
    assert described["lastExecution"]["status"] == "ERROR"
    assert described["lastExecution"]["exception"]["message"] == "downstream is down"
    assert "Scheduled task flaky failed" in caplog.text


async def test_apscheduler_jobs_are_listed_with_their_next_run() -> None:
    scheduler = BackgroundScheduler(timezone=datetime.timezone.utc)
    scheduler.add_job(nightly, "cron", hour=3, minute=0, id="nightly")
    scheduler.add_job(nightly, "interval", seconds=30, id="every30")
    scheduler.add_job(
        nightly, "date", run_date=datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc)
    )
    scheduler.start(paused=True)
    try:
        actuator = make_actuator()
        actuator.scheduled_tasks.add_apscheduler(scheduler)
        async with serve(actuator) as http:
            body = (await http.get("/actuator/scheduledtasks")).json()
    finally:
        scheduler.shutdown(wait=False)
    cron = body["cron"][0]
    assert cron["runnable"]["target"] == "tests.endpoints.test_scheduledtasks:nightly"
    assert cron["expression"] == "0 0 3 * * *"
    assert cron["nextExecution"]["time"].endswith("T03:00:00.000000Z")
    assert body["fixedRate"][0]["interval"] == 30_000
    assert body["custom"][0]["trigger"].startswith("date[2100-01-01")


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({}, ValueError),
        ({"cron": "* * * * * *", "fixed_rate": 1}, ValueError),
        ({"fixed_rate": 0}, ValueError),
        ({"fixed_delay": -1}, ValueError),
        ({"fixed_delay": "5"}, TypeError),
        ({"fixed_rate": float("nan")}, TypeError),
        ({"cron": " "}, ValueError),
        ({"fixed_rate": 1, "initial_delay": -1}, ValueError),
    ],
)
def test_a_bad_task_description_names_the_problem(
    kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error, match="scheduled task 'job'"):
        Actuator().scheduled_tasks.add("job", **kwargs)


def test_apscheduler_must_be_a_scheduler() -> None:
    with pytest.raises(TypeError, match="get_jobs"):
        Actuator().scheduled_tasks.add_apscheduler(object())
