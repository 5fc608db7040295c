"""Calling user code (indicators, contributors) safely: sync or async, under a deadline."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, Generic, TypeVar

from actuator.health.result import describe_exception

T = TypeVar("T")

_STALL_GRACE = 0.05


def is_async_callable(obj: object) -> bool:
    """True for ``async def`` functions, partials of them and objects with ``async __call__``."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    if inspect.iscoroutinefunction(obj):
        return True
    call = getattr(obj, "__call__", None)  # noqa: B004 - we want the attribute itself
    return call is not None and inspect.iscoroutinefunction(call)


class CallTimeout(TimeoutError):
    """The call did not finish within its timeout."""


class StillRunning(TimeoutError):
    """A previous synchronous call is still running in its thread, so no new one was started."""


class BlockedLoop(TimeoutError):
    """An async call answered, but only after blocking the event loop past its timeout.

    A blocked loop cannot be interrupted (no timer fires while it is blocked),
    but the answer can be judged: it came too late to be trusted.
    """


# Which user call is running on each thread's event loop right now, so the
# event-loop watchdog can name the code that blocks it.
_running: dict[int, str] = {}


def running_call(thread_id: int) -> str | None:
    """The name of the guarded call running on thread ``thread_id`` now, if any."""
    return _running.get(thread_id)


class _Timed:
    """Awaits a coroutine and measures its longest step: time it held the loop without yielding.

    Each ``send``/``throw`` into the coroutine runs until its next ``await`` of
    something not ready; a step that takes seconds is a blocked event loop.
    """

    def __init__(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.coro = coro
        self.name = name
        self.longest_step = 0.0

    def __await__(self) -> Generator[Any, Any, Any]:
        coro = self.coro
        thread = threading.get_ident()
        value: Any = None
        error: BaseException | None = None
        while True:
            _running[thread] = self.name
            started = time.perf_counter()
            try:
                pending = coro.throw(error) if error is not None else coro.send(value)
            except StopIteration as stop:
                return stop.value
            finally:
                self.longest_step = max(self.longest_step, time.perf_counter() - started)
                _running.pop(thread, None)
            try:
                value, error = (yield pending), None
            except BaseException as exc:  # cancellation included: passed on into the coroutine
                value, error = None, exc


def failure_text(error: BaseException) -> str:
    """How an answer names a failed call: ``"<module.Type>: <message>"``.

    Our own timeouts read as the built-in ``TimeoutError`` they subclass: the
    private class names would tell an operator nothing.
    """
    if isinstance(error, (CallTimeout, StillRunning, BlockedLoop)):
        return f"TimeoutError: {error}"
    return describe_exception(error)


def _consume(future: asyncio.Future[Any]) -> None:
    # Read the outcome of an abandoned task so asyncio does not log it as never retrieved.
    if not future.cancelled():
        future.exception()


async def cancel_and_wait(task: asyncio.Future[Any], timeout: float) -> bool:
    """Cancel ``task`` and wait until it ends, at most ``timeout`` seconds; ``True`` if it did.

    The task is cancelled again every 50 ms while it runs: code that swallows one
    cancellation (``asyncio.wait_for`` before Python 3.12, nats-py's ``close()``
    while it waits for its reconnection) must not keep a stop waiting for ever.
    Its outcome is read, never raised; a task still running at the deadline is
    left behind.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not task.done():
        task.cancel()
        left = deadline - loop.time()
        if left <= 0:
            task.add_done_callback(_consume)
            return False
        await asyncio.wait({task}, timeout=min(0.05, left))
    _consume(task)
    return True


async def within(awaitable: Awaitable[T], timeout: float) -> T:
    """``await awaitable``, raising ``TimeoutError`` after ``timeout`` seconds, whatever it does.

    Unlike ``asyncio.wait_for`` before Python 3.12, never waits past the deadline
    for an awaitable that does not stop when cancelled (see ``cancel_and_wait``).
    """
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        await cancel_and_wait(task, _GIVE_UP)
        raise
    if not done:
        await cancel_and_wait(task, _GIVE_UP)
        raise TimeoutError(f"no answer within {timeout:g}s")
    return task.result()


_GIVE_UP = 1.0
"""Seconds a cancelled task is given to end before it is left behind."""


class GuardedCall(Generic[T]):
    """Calls a sync or async function under a timeout and never waits past it.

    Async functions run as a task that is cancelled at the timeout (and not
    awaited, so a coroutine that ignores cancellation cannot hang the caller).
    Sync functions run in the given thread pool. Calls made while one is running
    within its timeout share it (concurrent requests for the same section get
    one answer from one thread); a thread cannot be stopped, so while a call is
    still running past its timeout no other is started for this function: a
    stuck check holds one thread, not the whole pool.
    """

    def __init__(
        self, fn: Callable[[], T | Awaitable[T]], *, name: str, blocking: bool | None = None
    ) -> None:
        self.fn = fn
        self.name = name
        self.is_async = is_async_callable(fn)
        # A sync function declared non-blocking is called on the loop: no thread hop.
        self.inline = blocking is False and not self.is_async
        self._straggler: concurrent.futures.Future[Any] | None = None
        # The caller's note of the failure it last logged, so it logs each failure once.
        self.failure: str | None = None
        self._straggler_since = 0.0
        self._straggler_deadline = 0.0

    async def __call__(self, timeout: float, executor: concurrent.futures.Executor) -> T:
        started = time.monotonic()
        if self.inline:
            thread = threading.get_ident()
            _running[thread] = self.name
            try:
                value = self.fn()
            finally:
                _running.pop(thread, None)
            took = time.monotonic() - started
            if took > timeout:
                raise BlockedLoop(
                    f"{self.name} blocked the event loop for {took:.1f} s (timeout {timeout:g}s)"
                )
            if inspect.isawaitable(value):
                return await self._await_leftover(value, timeout)
            return value
        timed: _Timed | None = None
        if self.is_async:
            called = self.fn()
            if inspect.iscoroutine(called):
                timed = _Timed(called, self.name)
                called = timed
            task: asyncio.Future[Any] = asyncio.ensure_future(self._await(called))
        else:
            task = self._call_sync(executor, timeout)
        try:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done and time.monotonic() - started > timeout + _STALL_GRACE:
                # The loop was blocked past the timeout (by this call or another): a call
                # that became ready meanwhile gets one short chance, so it is not blamed.
                done, _ = await asyncio.wait({task}, timeout=_STALL_GRACE)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not done:
            task.cancel()
            task.add_done_callback(_consume)
            raise CallTimeout(f"{self.name} did not answer within {timeout:g}s")
        value = task.result()
        if timed is not None and timed.longest_step > timeout:
            raise BlockedLoop(
                f"{self.name} blocked the event loop for "
                f"{timed.longest_step:.1f} s (timeout {timeout:g}s)"
            )
        if inspect.isawaitable(value):
            # A sync callable that returned an awaitable (a lambda around a coroutine):
            # await it on the loop, within what is left of the timeout.
            left = max(timeout - (time.monotonic() - started), 0.0)
            return await self._await_leftover(value, left)
        return value  # type: ignore[no-any-return]

    @staticmethod
    async def _await(awaitable: Any) -> Any:
        return await awaitable

    def _call_sync(
        self, executor: concurrent.futures.Executor, timeout: float
    ) -> asyncio.Future[Any]:
        straggler = self._straggler
        if straggler is not None and not straggler.done():
            now = time.monotonic()
            if now < self._straggler_deadline:
                return asyncio.wrap_future(straggler)  # still in time: share its answer
            age = now - self._straggler_since
            failed: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            failed.set_exception(
                StillRunning(
                    f"{self.name} is still running its previous call, started "
                    f"{age:.1f}s ago; no new call started"
                )
            )
            return failed
        context = contextvars.copy_context()
        future = executor.submit(context.run, self.fn)
        self._straggler, self._straggler_since = future, time.monotonic()
        self._straggler_deadline = self._straggler_since + timeout
        return asyncio.wrap_future(future)

    async def _await_leftover(self, value: Awaitable[Any], timeout: float) -> T:
        task = asyncio.ensure_future(value)
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done:
            task.cancel()
            task.add_done_callback(_consume)
            raise CallTimeout(f"{self.name} did not answer within {timeout:g}s")
        return task.result()  # type: ignore[no-any-return]
