from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.management import make_actuator, serve


def parked_thread_body(release: threading.Event) -> None:
    release.wait(timeout=30)


async def innermost(release: asyncio.Event) -> None:
    await release.wait()


async def middle(release: asyncio.Event) -> None:
    await innermost(release)


async def outer_worker(release: asyncio.Event) -> None:
    await middle(release)


async def waits_for_a_task(task: asyncio.Task[None]) -> None:
    await task


@pytest.fixture
async def busy() -> AsyncIterator[None]:
    """A parked thread and a task suspended three coroutines deep, with a task awaiting it."""
    thread_release, task_release = threading.Event(), asyncio.Event()
    thread = threading.Thread(target=parked_thread_body, args=(thread_release,),
                              name="parked-worker", daemon=True)
    thread.start()
    worker = asyncio.get_running_loop().create_task(outer_worker(task_release),
                                                    name="deep-worker")
    waiter = asyncio.get_running_loop().create_task(waits_for_a_task(worker), name="waiter")
    await asyncio.sleep(0.01)
    yield
    thread_release.set()
    task_release.set()
    await asyncio.gather(worker, waiter)
    thread.join(timeout=5)


def methods(stack: list[dict[str, Any]]) -> list[str]:
    return [frame["methodName"] for frame in stack]


@pytest.mark.usefixtures("busy")
async def test_json_dump_shows_threads_and_tasks_with_their_coroutine_stacks() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.get("/actuator/threaddump")
    assert answer.status_code == 200
    dump = answer.json()
    threads = {t["threadName"]: t for t in dump["threads"]}
    parked = threads["parked-worker"]
    assert parked["daemon"] is True
    assert "parked_thread_body" in methods(parked["stackTrace"])
    assert methods(threads["MainThread"]["stackTrace"])[0] == "thread_dump"  # innermost first
    tasks = {t["name"]: t for t in dump["tasks"]}
    deep = tasks["deep-worker"]
    assert deep["state"] == "WAITING"
    assert deep["coroutine"] == "outer_worker"
    # Innermost first, through every coroutine the task awaits (get_stack() stops at the first).
    chain = methods(deep["stackTrace"])
    assert chain[-3:] == ["innermost", "middle", "outer_worker"]
    assert chain[0].endswith("wait")  # Event.wait (co_qualname needs Python 3.11)
    assert tasks["waiter"]["awaiting"] == ["deep-worker"]
    assert any(t["state"] == "RUNNING" for t in dump["tasks"])
    frame = deep["stackTrace"][-1]
    assert frame["fileName"].endswith("test_threaddump.py")
    assert frame["className"] == __name__
    assert isinstance(frame["lineNumber"], int)


@pytest.mark.usefixtures("busy")
async def test_text_dump_is_readable() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.get("/actuator/threaddump", headers={"accept": "text/plain"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert "(most recent call first)" in text
    assert 'Thread "parked-worker"' in text
    assert 'Task "deep-worker" WAITING: coroutine outer_worker' in text
    assert 'Task "waiter" WAITING awaiting deep-worker' in text
    assert "in innermost" in text
    assert "await release.wait()" in text  # the source line


async def test_threaddump_refuses_media_types_it_cannot_produce() -> None:
    actuator = make_actuator()
    async with serve(actuator) as http:
        answer = await http.get("/actuator/threaddump", headers={"accept": "application/xml"})
    assert answer.status_code == 406
