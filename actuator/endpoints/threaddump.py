"""The threaddump endpoint: every thread's stack and every asyncio task's coroutine stack.

Stacks list the innermost (most recent) call first, as Spring Boot does.
Frame locals are never shown.

Python does not say whether a thread runs or waits, so ``threadState`` is
inferred from the thread's innermost Python frame, the call it is in when the
dump is taken:

- in ``threading`` (``Condition.wait``, ``Event.wait``, ``Semaphore.acquire``,
  ``Barrier.wait``, ``Thread.join``, which ``queue.Queue.get`` also ends in) or
  in a ``selectors`` ``select`` (select, poll, epoll, kqueue): ``WAITING``, or
  ``TIMED_WAITING`` when the call was given a timeout; ``lockName`` names the
  object waited on;
- elsewhere, by the source line: ``sleep(`` is ``TIMED_WAITING``;
  ``.acquire(`` or ``with ...lock...:`` is ``BLOCKED`` (Java's waiting to
  enter a monitor); ``.wait(``, ``.join(``, ``select(``, ``poll(`` and
  ``queue.get(`` (a ``queue.SimpleQueue``, as thread pools' idle workers wait
  on) are ``WAITING``;
- anything else (running Python code, or a C call not listed, such as a
  socket read, which Java also reports as running) is ``RUNNABLE``, and so is
  the thread taking the dump.

Python keeps no count of how often or how long a thread blocked or waited:
``blockedCount``, ``blockedTime``, ``waitedCount`` and ``waitedTime`` are -1
(Java's "not measured") and ``lockOwnerId`` is -1 (no owner known).

Asyncio tasks are listed apart (Spring Boot Admin ignores them): ``RUNNING``
(the task answering this request), ``READY`` (scheduled to run), ``WAITING``
(suspended on a future or another task; ``awaiting`` names the tasks) or
``CANCELLING``.
"""

from __future__ import annotations

import asyncio
import datetime
import linecache
import os
import re
import sys
import threading
import traceback
from types import CodeType, FrameType
from typing import Any, ClassVar

from actuator.endpoints.base import JSON_TYPES, Endpoint, EndpointResponse, OperationRequest

TEXT = "text/plain"
_MAX_DEPTH = 256
_NOT_MEASURED = -1

# The innermost frame's (module, function) when a thread waits in the standard library.
_WAITING_CALLS = frozenset(
    {
        ("threading", "wait"),
        ("threading", "acquire"),
        ("threading", "join"),
        ("threading", "_wait_for_tstate_lock"),
        ("threading", "wait_for"),
        ("selectors", "select"),
    }
)
_SOURCE_STATES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bsleep\("), "TIMED_WAITING"),
    (re.compile(r"\.acquire\(|^with\b.*lock.*:", re.IGNORECASE), "BLOCKED"),
    (re.compile(r"\.(wait|join)\(|\b(select|poll)\(|queue\.get\(", re.IGNORECASE), "WAITING"),
)


class ThreadDumpEndpoint(Endpoint):
    """``GET /threaddump``: JSON, or a readable text dump with ``Accept: text/plain``.

    ::

        {"threads": [{"threadName": "MainThread", "threadId": 140245, "nativeId": 4242,
                      "daemon": false, "threadState": "RUNNABLE",
                      "stackTrace": [{"methodName": "select", "fileName": ".../selectors.py",
                                      "lineNumber": 468, "className": "selectors"}, ...]}],
         "tasks": [{"name": "Task-7", "state": "WAITING", "coroutine": "worker",
                    "awaiting": ["Task-8"], "stackTrace": [...]}]}
    """

    name: ClassVar[str] = "threaddump"
    max_path: ClassVar[int | None] = 0
    produces: ClassVar[tuple[str, ...]] = (*JSON_TYPES, TEXT)

    async def read(self, request: OperationRequest) -> Any:
        dump = thread_dump()
        if request.media_type == TEXT:
            return EndpointResponse(
                format_thread_dump(dump), media_type="text/plain; charset=utf-8"
            )
        return dump


def thread_dump() -> dict[str, Any]:
    """Every thread and every task of the running event loop (if any), as JSON-able data."""
    frames = sys._current_frames()
    me = threading.get_ident()
    threads = []
    named = set()
    for thread in threading.enumerate():
        named.add(thread.ident)
        frame = frames.get(thread.ident) if thread.ident else None
        threads.append(
            _thread(
                thread.name,
                thread.ident,
                thread.native_id,
                thread.daemon,
                frame,
                alive=thread.is_alive(),
                current=thread.ident == me,
            )
        )
    for ident, frame in frames.items():
        if ident not in named:  # started with _thread, unknown to threading
            threads.append(
                _thread(f"Dummy-{ident}", ident, None, True, frame, alive=True, current=ident == me)
            )
    del frames
    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="milliseconds"
        ),
        "pid": os.getpid(),
        "threads": threads,
        "tasks": _tasks(),
    }


def _thread(
    name: str,
    ident: int | None,
    native_id: int | None,
    daemon: bool,
    frame: FrameType | None,
    *,
    alive: bool,
    current: bool,
) -> dict[str, Any]:
    state, lock = ("RUNNABLE", None) if current or frame is None else thread_state(frame)
    if not alive:
        state, lock = "TERMINATED", None
    return {
        "threadName": name,
        "threadId": ident,
        "nativeId": native_id,
        "daemon": daemon,
        "threadState": state,
        "blockedCount": _NOT_MEASURED,
        "blockedTime": _NOT_MEASURED,
        "waitedCount": _NOT_MEASURED,
        "waitedTime": _NOT_MEASURED,
        "lockName": lock,
        "lockOwnerId": _NOT_MEASURED,
        "lockOwnerName": None,
        "inNative": False,
        "suspended": False,
        "stackTrace": _stack(frame),
    }


def thread_state(frame: FrameType) -> tuple[str, str | None]:
    """``(threadState, lockName)`` of a thread whose innermost Python frame is ``frame``.

    The rule is in this module's docstring. Locals are read only from the
    standard library's waiting frames, for their ``timeout`` and ``self``.
    """
    module = frame.f_globals.get("__name__")
    if (module, frame.f_code.co_name) in _WAITING_CALLS:
        local = frame.f_locals
        timeout = local.get("timeout")
        timed = timeout is not None and not (isinstance(timeout, (int, float)) and timeout < 0)
        waited_on = local.get("self")
        lock = (
            (f"{type(waited_on).__module__}.{type(waited_on).__qualname__}@{id(waited_on):x}")
            if waited_on is not None
            else None
        )
        return ("TIMED_WAITING" if timed else "WAITING"), lock
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    for pattern, state in _SOURCE_STATES:
        if pattern.search(line):
            return state, None
    return "RUNNABLE", None


def _tasks() -> list[dict[str, Any]]:
    try:
        tasks = asyncio.all_tasks()
    except RuntimeError:
        return []
    current = asyncio.current_task()
    described = [_task(task, current) for task in tasks]
    return sorted(described, key=lambda t: (t["state"] != "RUNNING", t["name"]))


def _task(task: asyncio.Task[Any], current: asyncio.Task[Any] | None) -> dict[str, Any]:
    waiter = getattr(task, "_fut_waiter", None)  # what a suspended task waits for
    awaiting = _awaited_tasks(waiter)
    cancelling = getattr(task, "cancelling", None)
    if task is current:
        state = "RUNNING"
    elif cancelling is not None and cancelling():
        state = "CANCELLING"
    elif waiter is None:
        state = "READY"
    else:
        state = "WAITING"
    coro = task.get_coro()
    return {
        "name": task.get_name(),
        "state": state,
        "coroutine": _qualname(coro),
        "awaiting": awaiting,
        "stackTrace": [_frame(frame, lineno) for frame, lineno in _coroutine_frames(coro)],
    }


def _awaited_tasks(waiter: object) -> list[str]:
    if isinstance(waiter, asyncio.Task):
        return [waiter.get_name()]
    children = getattr(waiter, "_children", None)  # asyncio.gather's future
    if isinstance(children, list):
        return [child.get_name() for child in children if isinstance(child, asyncio.Task)]
    return []


def _coroutine_frames(coro: object) -> list[tuple[FrameType, int]]:
    """The frames of a coroutine and of everything it awaits, innermost first.

    ``Task.get_stack()`` stops at the outermost coroutine of a suspended task;
    following ``cr_await`` (``gi_yieldfrom``, ``ag_await``) reaches the frame
    where it actually waits.
    """
    found: list[tuple[FrameType, int]] = []
    for _ in range(_MAX_DEPTH):
        if coro is None:
            break
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "gi_frame", None)
            or getattr(coro, "ag_frame", None)
        )
        if isinstance(frame, FrameType):
            found.append((frame, frame.f_lineno))
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "gi_yieldfrom", None)
            or getattr(coro, "ag_await", None)
        )
    found.reverse()
    return found


def _stack(frame: FrameType | None) -> list[dict[str, Any]]:
    stack: list[dict[str, Any]] = []
    if frame is None:
        return stack
    for caller, lineno in traceback.walk_stack(frame):
        if len(stack) >= _MAX_DEPTH:
            break
        stack.append(_frame(caller, lineno))
    return stack


def _frame(frame: FrameType, lineno: int) -> dict[str, Any]:
    code: CodeType = frame.f_code
    return {
        "methodName": getattr(code, "co_qualname", code.co_name),
        "fileName": code.co_filename,
        "lineNumber": lineno,
        "className": frame.f_globals.get("__name__"),
    }


def _qualname(coro: object) -> str:
    name = getattr(coro, "__qualname__", None)
    return name if isinstance(name, str) else type(coro).__name__


def format_thread_dump(dump: dict[str, Any]) -> str:
    """A dump from ``thread_dump()`` as text, in the style of ``faulthandler``."""
    lines = [
        f"Thread dump of process {dump['pid']} at {dump['timestamp']} (most recent call first)",
        "",
    ]
    for thread in dump["threads"]:
        daemon = ", daemon" if thread["daemon"] else ""
        lines.append(
            f'Thread "{thread["threadName"]}" (id {thread["threadId"]}, '
            f"native id {thread['nativeId']}{daemon}):"
        )
        lines.extend(_format_stack(thread["stackTrace"]))
        lines.append("")
    tasks = dump["tasks"]
    lines.append(f"Asyncio tasks of the serving event loop: {len(tasks)}")
    lines.append("")
    for task in tasks:
        awaiting = f" awaiting {', '.join(task['awaiting'])}" if task["awaiting"] else ""
        lines.append(
            f'Task "{task["name"]}" {task["state"]}{awaiting}: coroutine {task["coroutine"]}'
        )
        lines.extend(_format_stack(task["stackTrace"]))
        lines.append("")
    return "\n".join(lines)


def _format_stack(stack: list[dict[str, Any]]) -> list[str]:
    lines = []
    for frame in stack:
        lines.append(
            f'  File "{frame["fileName"]}", line {frame["lineNumber"]}, in {frame["methodName"]}'
        )
        source = linecache.getline(frame["fileName"], frame["lineNumber"]).strip()
        if source:
            lines.append(f"    {source}")
    return lines
