"""Pushing one instance's status to a fleet console, in the background of the app.

``Actuator`` starts a ``FleetPusher`` when ``settings.fleet.url`` is set: it
registers on start, pushes the status as soon as a local check sees it change
(every ``check_interval`` seconds, and at once when readiness changes), sends a
heartbeat every ``heartbeat`` seconds otherwise, and says goodbye on shutdown.
Every call has a deadline (``timeout``). While the console is unreachable or
refuses, it backs off exponentially with full jitter and, once through again,
registers afresh, so the console gets the current state, not a stale one.
Nothing here ever blocks or fails the app: errors are logged, once per outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from actuator.client import Backoff
from actuator.settings import FleetSettings

logger = logging.getLogger("actuator.fleet")

Status = tuple[str, list[str]]
"""The instance's status code and the names of its components that are not UP."""


def default_instance_id(started: float | None = None) -> str:
    """``<host>-<pid>-<start time in ms, hex>``: unique per process, stable while it runs.

    The port is not part of it: an app does not know its port before a server
    gives it a request. Set ``fleet.instance_id`` for an id that survives restarts.
    """
    moment = time.time() if started is None else started
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())
    return f"{host[:100] or 'host'}-{os.getpid()}-{int(moment * 1000):x}"


def _scalars(section: Any, prefix: str = "") -> dict[str, Any]:
    """A nested info section flattened to at most 32 ``a.b`` keys with short scalar values."""
    out: dict[str, Any] = {}
    if not isinstance(section, Mapping):
        return out
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_scalars(value, name + "."))
        elif value is None or isinstance(value, (bool, int, float)):
            out[name] = value
        else:
            out[name] = str(value)[:200]
    return dict(list(out.items())[:32])


def registration_from_info(info: Mapping[str, Any]) -> dict[str, Any]:
    """Service, version, facts, build and git of an ``/actuator/info`` answer."""
    app = info.get("app") if isinstance(info.get("app"), Mapping) else {}
    facts = info.get("facts") if isinstance(info.get("facts"), Mapping) else {}
    build = info.get("build") if isinstance(info.get("build"), Mapping) else {}
    name = (app or {}).get("name") or (build or {}).get("name") or "unnamed"
    version = (app or {}).get("version") or (build or {}).get("version")
    return {
        "service": "".join(c if c.isalnum() or c in "_.:@-" else "-" for c in str(name))[:200],
        "version": None if version is None else str(version)[:200],
        "facts": {
            str(k): v if isinstance(v, (str, int, float, bool)) else str(v)
            for k, v in list((facts or {}).items())[:64]
        },
        "build": _scalars(build),
        "git": _scalars(info.get("git")),
    }


class FleetPusher:
    """Keeps a fleet console informed of one instance (see the module docstring).

    Parameters:
        settings: the ``fleet`` settings (``url`` must be set).
        status: an async function giving the current ``(status, components not UP)``.
        registration: an async function giving service, version, facts, build, git.
        client: an ``httpx.AsyncClient`` (default: one of its own).
        backoff: the back-off between failed attempts (default: 0.5 s doubling to 60 s).
    """

    def __init__(
        self,
        settings: FleetSettings,
        *,
        status: Callable[[], Awaitable[Status]],
        registration: Callable[[], Awaitable[dict[str, Any]]],
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
        instance_id: str | None = None,
    ) -> None:
        if settings.url is None:
            raise ValueError("fleet.url must be set to push to a fleet console")
        self.settings = settings
        self.instance_id = settings.instance_id or instance_id or default_instance_id()
        self._status = status
        self._registration = registration
        self._client = client
        self._own_client = client is None
        self.backoff = backoff or Backoff()
        self._endpoint = f"{settings.url}/fleet/api/ingest"
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.registered = False
        self.sent: Status | None = None
        self.failing = False

    def poke(self) -> None:
        """Check and push now (the status may have changed); safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        if self._task is None:
            if self._client is None:
                self._client = httpx.AsyncClient()
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="fleet-push")

    async def stop(self) -> None:
        """Stop pushing and say goodbye (within one ``timeout``, whatever the console does)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self.registered:
                with contextlib.suppress(Exception):
                    await self._send([{"type": "deregister", "id": self.instance_id}])
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- the loop -------------------------------------------------------------

    async def _run(self) -> None:
        last_push = 0.0
        while True:
            current = await self._current()
            due = time.monotonic() - last_push >= self.settings.heartbeat
            try:
                if not self.registered:
                    await self._register(current)
                    last_push = time.monotonic()
                elif current != self.sent or due:
                    await self._push(current)
                    last_push = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._failed(exc)
                continue
            if self.failing:
                logger.info("fleet console %s reachable again", self.settings.url)
                self.failing = False
            self.backoff.reset()
            wait = min(
                self.settings.check_interval,
                max(0.0, self.settings.heartbeat - (time.monotonic() - last_push)),
            )
            await self._sleep(wait)

    async def _current(self) -> Status:
        try:
            return await self._status()
        except Exception:
            logger.exception("fleet push: computing the status failed; reporting UNKNOWN")
            return ("UNKNOWN", [])

    async def _register(self, current: Status) -> None:
        details = await self._registration()
        update = {
            "type": "register",
            "id": self.instance_id,
            "status": current[0],
            "components": current[1],
            **details,
        }
        if self.settings.management_url:
            update["url"] = self.settings.management_url
        await self._send([update])
        self.registered, self.sent = True, current

    async def _push(self, current: Status) -> None:
        answer = await self._send(
            [
                {
                    "type": "status",
                    "id": self.instance_id,
                    "status": current[0],
                    "components": current[1],
                }
            ]
        )
        if self.instance_id in answer.get("unknown", []):
            # The console forgot us (a new database, or silence past forget_after).
            await self._register(current)
        self.sent = current

    async def _send(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        if self._client is None:
            raise RuntimeError("the fleet pusher is not started")
        headers = {}
        if self.settings.token is not None:
            headers["authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        timeout = self.settings.timeout
        answer = await asyncio.wait_for(
            self._client.post(
                self._endpoint, json={"updates": updates}, headers=headers, timeout=timeout
            ),
            timeout,
        )
        if answer.status_code != 200:
            try:
                message = answer.json().get("message", "")
            except ValueError:
                message = answer.text[:200]
            raise ConsoleRefused(f"{answer.status_code} {message}".strip())
        body: dict[str, Any] = answer.json()
        return body

    async def _failed(self, exc: Exception) -> None:
        self.registered = False  # re-send the whole current state once through
        delay = self.backoff.next()
        reason = str(exc) or type(exc).__name__
        if not self.failing:
            logger.warning(
                "fleet console %s: push failed (%s); retrying with back-off",
                self.settings.url,
                reason,
            )
            self.failing = True
        else:
            logger.debug("fleet push failed again (%s); next try in %.1fs", reason, delay)
        # Not woken early by a status change: the jitter is what spreads a
        # fleet's retries when the console comes back.
        await asyncio.sleep(delay)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()


class ConsoleRefused(Exception):
    """The console answered, but not 200: the message says why (never the token)."""
