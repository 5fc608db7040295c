"""Limits on authentication attempts: concurrent password checks, failures per client.

An HTTP basic password is checked with scrypt, slow and 16 MiB on purpose
(``actuator.security``). Unbounded, 20 concurrent attempts would take 320 MiB
and push a small sidecar past its memory limit; so only a few run at once
(``PasswordChecks``). And a client address that keeps failing is refused for
a while before anything is checked (``FailedAttempts``), which makes guessing
slow and costs the server nothing.
"""

from __future__ import annotations

import asyncio
import math
import time

MAX_WAITING = 32
"""Password checks that may wait for a slot; more are refused at once."""
_POLL = 0.01


class Busy(Exception):
    """No password-check slot came free in time."""


class PasswordChecks:
    """At most ``limit`` password checks at once; others wait up to ``wait`` seconds.

    Counted on the event loop (no await between test and update), so it needs
    no lock and belongs to no particular loop.
    """

    def __init__(self, limit: int, wait: float = 0.5) -> None:
        self.limit = limit
        self.wait = wait
        self.running = 0
        self.waiting = 0

    async def acquire(self) -> None:
        """Take a slot, or raise ``Busy``."""
        if self.running < self.limit:
            self.running += 1
            return
        if self.waiting >= MAX_WAITING:
            raise Busy
        self.waiting += 1
        try:
            deadline = time.monotonic() + self.wait
            while self.running >= self.limit:
                if time.monotonic() >= deadline:
                    raise Busy
                await asyncio.sleep(_POLL)
            self.running += 1
        finally:
            self.waiting -= 1

    def release(self) -> None:
        self.running -= 1


class FailedAttempts:
    """Failed authentications per client address in a fixed window of ``window`` seconds.

    ``retry_after(client)`` is ``None`` while the client is under ``limit``
    failures, else the seconds until its window ends. At most ``max_clients``
    addresses are remembered (the oldest windows are forgotten first), so a
    flood from many addresses cannot grow memory without bound.
    """

    def __init__(self, limit: int, window: float, max_clients: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.max_clients = max_clients
        self._windows: dict[str, tuple[float, int]] = {}

    def retry_after(self, client: str) -> int | None:
        if self.limit <= 0:
            return None
        entry = self._windows.get(client)
        if entry is None:
            return None
        started, failures = entry
        left = started + self.window - time.monotonic()
        if left <= 0:
            del self._windows[client]
            return None
        return math.ceil(left) if failures >= self.limit else None

    def failed(self, client: str) -> None:
        if self.limit <= 0:
            return
        now = time.monotonic()
        started, failures = self._windows.get(client, (now, 0))
        if now - started >= self.window:
            started, failures = now, 0
        if client not in self._windows and len(self._windows) >= self.max_clients:
            self._forget(now)
        self._windows[client] = (started, failures + 1)

    def _forget(self, now: float) -> None:
        expired = [c for c, (started, _) in self._windows.items() if now - started >= self.window]
        for client in expired:
            del self._windows[client]
        while len(self._windows) >= self.max_clients:
            # dicts keep insertion order: the first entry is the oldest window.
            del self._windows[next(iter(self._windows))]
