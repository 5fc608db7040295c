"""Pause and resume: a circuit breaker the app and its load balancer both honour.

While paused, readiness is OUT_OF_SERVICE (so load balancers stop sending
traffic), app requests may be answered 503 with ``Retry-After`` by the
middleware, and the app's own workers can check ``paused`` or await
``wait_resumed()``. The actuator itself keeps answering.
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.types import Scope, Send

from actuator._http import error_body, send_response
from actuator.health.availability import Availability
from actuator.management.audit import APP, audit
from actuator.settings import PauseSettings

logger = logging.getLogger("actuator.pause")

PAUSE_SOURCE = "pause"
"""The readiness refusal source a pause uses (independent of drains and the app's own)."""

Callback = Callable[[], Awaitable[Any] | Any]
Action = Literal["pause", "resume", "flip"]


@dataclass(frozen=True)
class PauseState:
    """Whether the app is paused; ``reason``, ``since`` and ``by`` describe the last change."""

    paused: bool = False
    reason: str | None = None
    since: datetime.datetime | None = None
    by: str | None = None

    def to_json(self) -> dict[str, Any]:
        since = None if self.since is None else self.since.isoformat(timespec="milliseconds")
        return {"paused": self.paused, "reason": self.reason, "since": since, "by": self.by}


class PauseControl:
    """The pause switch of one actuator; reach it as ``actuator.pause()`` and friends.

    Transitions are atomic and thread-safe: ``pause``, ``resume`` and ``flip``
    may be called from any thread or task, concurrently, and the state, the
    readiness refusal and the callbacks always agree. Callbacks run on the
    event loop one at a time, in the order of the transitions that caused
    them, so the last one to run matches the final state.

    Parameters:
        availability: whose readiness turns OUT_OF_SERVICE while paused.
        settings: what happens to app requests while paused.
    """

    def __init__(self, availability: Availability, settings: PauseSettings) -> None:
        self.availability = availability
        self.settings = settings
        self.paused = False  # a plain attribute: the middleware reads it on every request
        self._state = PauseState()
        self._lock = threading.RLock()
        self._on_pause: list[Callback] = []
        self._on_resume: list[Callback] = []
        self._pending: collections.deque[bool] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def state(self) -> PauseState:
        return self._state

    # -- transitions -----------------------------------------------------------

    def pause(self, reason: str = "", *, by: str = APP) -> bool:
        """Pause; ``False`` if already paused (nothing changes then)."""
        return self._set(True, reason, by)

    def resume(self, reason: str = "", *, by: str = APP) -> bool:
        """Resume; ``False`` if not paused (nothing changes then)."""
        return self._set(False, reason, by)

    def flip(self, reason: str = "", *, by: str = APP) -> bool:
        """Pause if running, resume if paused; the new ``paused`` value."""
        return self.apply("flip", reason, by=by)[1].paused

    def apply(self, action: Action, reason: str = "", *, by: str = APP) -> tuple[bool, PauseState]:
        """Run ``pause``, ``resume`` or ``flip``; whether it changed anything, and the state
        right after it (taken atomically with the change)."""
        with self._lock:
            paused = {"pause": True, "resume": False}.get(action, not self.paused)
            changed = self._set(paused, reason, by)
            return changed, self._state

    def _set(self, paused: bool, reason: str, by: str) -> bool:
        with self._lock:
            if paused == self.paused:
                return False
            self.paused = paused
            now = datetime.datetime.now(datetime.timezone.utc)
            if paused:
                reason = reason or "paused"
                self.availability.refuse_traffic(reason, source=PAUSE_SOURCE)
            else:
                self.availability.accept_traffic(source=PAUSE_SOURCE)
            self._state = PauseState(paused, reason or None, now, by)
            self._pending.append(paused)
            waiters, self._waiters = (self._waiters, []) if not paused else ([], self._waiters)
            audit("pause" if paused else "resume", by, **({"reason": reason} if reason else {}))
        for loop, future in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(_resolve, future)
        self._kick()
        return True

    # -- waiting and callbacks -------------------------------------------------

    async def wait_resumed(self) -> None:
        """Return once the app is not paused (at once if it is not)."""
        while self.paused:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                if not self.paused:
                    return
                self._waiters.append((loop, future))
            try:
                await future
            finally:
                with self._lock:
                    if (loop, future) in self._waiters:
                        self._waiters.remove((loop, future))

    def on_pause(self, callback: Callback) -> Callback:
        """Call ``callback()`` (sync or async) after each pause; usable as a decorator."""
        self._on_pause.append(_check_callback(callback, "on_pause"))
        return callback

    def on_resume(self, callback: Callback) -> Callback:
        """Call ``callback()`` (sync or async) after each resume; usable as a decorator."""
        self._on_resume.append(_check_callback(callback, "on_resume"))
        return callback

    async def settled(self) -> None:
        """Wait until the callbacks of every transition so far have run."""
        while True:
            task = self._dispatcher
            if task is None:
                # Transitions made on other threads may not have scheduled theirs yet.
                if not self._pending or self._loop is not asyncio.get_running_loop():
                    return
                self._ensure_dispatcher()
                continue
            if task is asyncio.current_task():
                return
            await asyncio.shield(task)

    def _kick(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no loop yet: start() dispatches what is pending
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._ensure_dispatcher()
        else:
            loop.call_soon_threadsafe(self._ensure_dispatcher)

    def _ensure_dispatcher(self) -> None:
        # Only ever runs on the loop's thread, like _dispatch, so the two cannot race.
        if self._dispatcher is None and self._loop is not None:
            self._dispatcher = self._loop.create_task(self._dispatch(), name="actuator-pause")

    async def _dispatch(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._dispatcher = None
                    return
                paused = self._pending.popleft()
            for callback in list(self._on_pause if paused else self._on_resume):
                try:
                    result = callback()
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    logger.exception(
                        "%s callback %r failed", "on_pause" if paused else "on_resume", callback
                    )

    # -- lifecycle (called by the actuator) -------------------------------------

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ensure_dispatcher()

    async def stop(self) -> None:
        task, self._dispatcher = self._dispatcher, None
        self._loop = None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- the middleware's gate -------------------------------------------------

    async def refuse(self, scope: Scope, send: Send) -> bool:
        """Answer an app request with 503 if the pause settings say so; whether it did."""
        settings = self.settings
        if not settings.reject_requests:
            return False
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        if settings.paths and not any(_under(path, prefix) for prefix in settings.paths):
            return False
        headers = (
            [(b"retry-after", str(settings.retry_after).encode())] if settings.retry_after else []
        )
        reason = self._state.reason or "paused"
        await send_response(
            send,
            503,
            error_body(503, f"Service paused: {reason}", scope["path"]),
            "application/json",
            headers=headers,
            head=scope.get("method") == "HEAD",
        )
        return True


def _under(path: str, prefix: str) -> bool:
    return prefix == "/" or path == prefix or path.startswith(prefix + "/")


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _check_callback(callback: object, label: str) -> Callback:
    if not callable(callback):
        raise TypeError(f"{label} callback must be callable, got {type(callback).__name__}")
    return callback
