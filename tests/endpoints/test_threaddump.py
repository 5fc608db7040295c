from __future__ import annotations

import asyncio
import queue
import threading
import time
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
    thread = threading.Thread(
        target=parked_thread_body, args=(thread_release,), name="parked-worker", daemon=True
    )
    thread.start()
    worker = asyncio.get_running_loop().create_task(outer_worker(task_release), name="deep-worker")
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


def _sleeper(stop: threading.Event) -> None:
    while not stop.is_set():
        time.sleep(0.2)


def _locker(lock: threading.Lock) -> None:
    lock.acquire()
    lock.release()


def _with_locker(lock: threading.Lock) -> None:
    with lock:
        pass


def _spinner(stop: threading.Event) -> None:
    count = 0
    while not stop.is_set():
        count += 1


def _forever(release: threading.Event) -> None:
    release.wait()


def _queue_reader(jobs: queue.Queue[object]) -> None:
    jobs.get()


def _simple_queue_reader(jobs: queue.SimpleQueue[object]) -> None:
    work_queue = jobs
    work_queue.get(block=True)


def _idle_loop(loop: asyncio.AbstractEventLoop, timer: float | None) -> None:
    asyncio.set_event_loop(loop)
    if timer is not None:
        loop.call_later(timer, lambda: None)
    loop.run_forever()
    loop.close()


async def test_thread_states_are_inferred_from_the_innermost_frame() -> None:
    """The states Spring Boot Admin's threaddump view colours (``thread-tag.vue``: R, W, T, B)
    and the detail fields ``thread-list-item.vue`` shows."""
    stop, release, held = threading.Event(), threading.Event(), threading.Lock()
    jobs: queue.Queue[object] = queue.Queue()
    simple: queue.SimpleQueue[object] = queue.SimpleQueue()
    idle, timed = asyncio.new_event_loop(), asyncio.new_event_loop()
    held.acquire()
    workers = [
        threading.Thread(target=_sleeper, args=(stop,), name="t-sleep", daemon=True),
        threading.Thread(target=_locker, args=(held,), name="t-acquire", daemon=True),
        threading.Thread(target=_with_locker, args=(held,), name="t-with", daemon=True),
        threading.Thread(target=_spinner, args=(stop,), name="t-spin", daemon=True),
        threading.Thread(target=_forever, args=(release,), name="t-wait", daemon=True),
        threading.Thread(target=parked_thread_body, args=(release,), name="t-timed", daemon=True),
        threading.Thread(target=_queue_reader, args=(jobs,), name="t-queue", daemon=True),
        threading.Thread(target=_simple_queue_reader, args=(simple,), name="t-simple", daemon=True),
        threading.Thread(target=_idle_loop, args=(idle, None), name="t-select", daemon=True),
        threading.Thread(target=_idle_loop, args=(timed, 60.0), name="t-poll", daemon=True),
    ]
    for worker in workers:
        worker.start()
    expected = {
        "t-sleep": "TIMED_WAITING",
        "t-acquire": "BLOCKED",
        "t-with": "BLOCKED",
        "t-spin": "RUNNABLE",
        "t-wait": "WAITING",
        "t-timed": "TIMED_WAITING",
        "t-queue": "WAITING",
        "t-select": "WAITING",
        "t-poll": "TIMED_WAITING",
        "t-simple": "WAITING",
    }
    try:
        actuator = make_actuator()
        async with serve(actuator) as http:
            for _ in range(50):  # until every worker reached its line, on a busy machine too
                await asyncio.sleep(0.1)
                threads = (await http.get("/actuator/threaddump")).json()["threads"]
                states = {t["threadName"]: t["threadState"] for t in threads}
                if all(states.get(name) == state for name, state in expected.items()):
                    break
    finally:
        stop.set()
        release.set()
        held.release()
        jobs.put(None)
        simple.put(None)
        for loop in (idle, timed):
            loop.call_soon_threadsafe(loop.stop)
        for worker in workers:
            worker.join(timeout=5)
    by_name = {t["threadName"]: t for t in threads}
    assert {name: by_name[name]["threadState"] for name in expected} == expected
    assert by_name["t-wait"]["lockName"].startswith("threading.Condition@")
    assert by_name["t-acquire"]["lockName"] is None  # not known from a source line
    current = threading.current_thread().name  # the event loop answering the request
    assert by_name[current]["threadState"] == "RUNNABLE"
    for thread in threads:
        assert {
            "blockedCount",
            "blockedTime",
            "waitedCount",
            "waitedTime",
            "lockName",
            "lockOwnerId",
            "lockOwnerName",
            "stackTrace",
        } <= set(thread)
        assert thread["blockedCount"] == thread["waitedTime"] == -1
