"""Pushing one instance's status to a fleet console, in the background of the app.

``Actuator`` starts a ``FleetPusher`` when ``fleet.url`` or ``fleet.nats.url`` is set: it
registers on start, pushes the status as soon as a local check sees it change
(every ``check_interval`` seconds, and at once when readiness changes), sends a
heartbeat every ``heartbeat`` seconds otherwise, and says goodbye on shutdown.
Every call has a deadline (``timeout``). While the console is unreachable or
refuses, it backs off exponentially with full jitter and, once through again,
registers afresh, so the console gets the current state, not a stale one.
Nothing here ever blocks or fails the app: errors are logged, once per outage.

The way the updates travel is a ``Transport``: ``HttpTransport`` posts them to
the console's ingest (``fleet.url``); ``NatsTransport`` publishes them to NATS
(``fleet.nats.url``, ``actuator.fleet.nats_publisher``). The loop, its
deadlines and its back-off are the same for both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import httpx

from actuator._calls import cancel_and_wait, within
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


class Transport(Protocol):
    """How updates reach the console(s)."""

    target: str
    """Where they go, for logs (never a credential)."""

    async def start(self) -> None: ...

    async def send(self, updates: list[dict[str, Any]]) -> None:
        """Deliver the updates, or raise; the caller puts a deadline on it."""
        ...

    def forgotten(self) -> bool:
        """Whether a console said it does not know this instance since the last call."""
        ...

    async def close(self) -> None: ...


class HttpTransport:
    """``POST {fleet.url}/fleet/api/ingest`` with the ingest token; the answer names
    the ids the console does not know."""

    def __init__(
        self, settings: FleetSettings, instance_id: str, client: httpx.AsyncClient | None = None
    ) -> None:
        self.settings = settings
        self.instance_id = instance_id
        self.target = str(settings.url)
        self._endpoint = f"{settings.url}/fleet/api/ingest"
        self._client = client
        self._own_client = client is None
        self._forgotten = False

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient()

    async def send(self, updates: list[dict[str, Any]]) -> None:
        if self._client is None:
            raise RuntimeError("the fleet pusher is not started")
        headers = {}
        if self.settings.token is not None:
            headers["authorization"] = f"Bearer {self.settings.token.get_secret_value()}"
        answer = await self._client.post(
            self._endpoint,
            json={"updates": updates},
            headers=headers,
            timeout=self.settings.timeout,
        )
        if answer.status_code != 200:
            try:
                message = answer.json().get("message", "")
            except ValueError:
                message = answer.text[:200]
            raise ConsoleRefused(f"{answer.status_code} {message}".strip())
        if self.instance_id in answer.json().get("unknown", []):
            self._forgotten = True

    def forgotten(self) -> bool:
        forgotten, self._forgotten = self._forgotten, False
        return forgotten

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None


class FleetPusher:
    """Keeps a fleet console informed of one instance (see the module docstring).

    Parameters:
        settings: the ``fleet`` settings (``url`` or ``nats.url`` must be set).
        status: an async function giving the current ``(status, components not UP)``.
        registration: an async function giving service, version, facts, build, git.
        client: an ``httpx.AsyncClient`` for the HTTP push (default: one of its own).
        backoff: the back-off between failed attempts (default: 0.5 s doubling to 60 s).
        transport: how updates travel (default: NATS when ``nats.url`` is set, else HTTP).
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
        transport: Transport | None = None,
    ) -> None:
        if not settings.enabled:
            raise ValueError("fleet.url or fleet.nats.url must be set to push to a fleet console")
        self.settings = settings
        self.instance_id = settings.instance_id or instance_id or default_instance_id()
        self._status = status
        self._registration = registration
        if transport is None:
            if settings.nats.url is not None:
                from actuator.fleet.nats_publisher import NatsTransport

                transport = NatsTransport(settings, self.instance_id, wake=self.poke)
            else:
                transport = HttpTransport(settings, self.instance_id, client)
        self.transport = transport
        self.backoff = backoff or Backoff()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
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
            await self.transport.start()
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            self._stopping = False
            self._task = self._loop.create_task(self._run(), name="fleet-push")

    async def stop(self) -> None:
        """Stop pushing and say goodbye (within one ``timeout``, whatever the console does)."""
        task, self._task = self._task, None
        if task is not None:
            # Said before cancelling: a client library may swallow the CancelledError
            # (nats-py's next_msg raises ConnectionClosedError instead once its
            # connection is closed), and the loop must not run on for ever.
            self._stopping = True
            await cancel_and_wait(task, self.settings.timeout)
            if self.registered:
                with contextlib.suppress(Exception):
                    await self._send([{"type": "deregister", "id": self.instance_id}])
        await self.transport.close()

    # -- the loop -------------------------------------------------------------

    async def _run(self) -> None:
        last_push = 0.0
        while not self._stopping:
            current = await self._current()
            due = time.monotonic() - last_push >= self.settings.heartbeat
            try:
                if not self.registered or self.transport.forgotten():
                    await self._register(current)
                    last_push = time.monotonic()
                elif current != self.sent or due:
                    await self._push(current)
                    last_push = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:  # stopped, though the transport lost the cancellation
                    raise asyncio.CancelledError from exc
                await self._failed(exc)
                continue
            if self.failing:
                logger.info("fleet console %s reachable again", self.transport.target)
                self.failing = False
            self.backoff.reset()
            wait = min(
                self.settings.check_interval,
                max(0.0, self.settings.heartbeat - (time.monotonic() - last_push)),
            )
            await self._sleep(wait)
        raise asyncio.CancelledError  # stopped, though the transport lost the cancellation

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
        await self._send(
            [
                {
                    "type": "status",
                    "id": self.instance_id,
                    "status": current[0],
                    "components": current[1],
                }
            ]
        )
        if self.transport.forgotten():
            # The console forgot us (a new database, or silence past forget_after).
            await self._register(current)
        self.sent = current

    async def _send(self, updates: list[dict[str, Any]]) -> None:
        await within(self.transport.send(updates), self.settings.timeout)

    async def _failed(self, exc: Exception) -> None:
        self.registered = False  # re-send the whole current state once through
        delay = self.backoff.next()
        reason = str(exc) or type(exc).__name__
        if not self.failing:
            logger.warning(
                "fleet console %s: push failed (%s); retrying with back-off",
                self.transport.target,
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
