"""Registering this actuator with a Spring Boot Admin server, as SBA's own client does.

``Actuator`` starts a ``SpringBootAdminRegistrator`` when
``settings.spring_boot_admin.url`` is set. What it sends and when follows the
client of codecentric/spring-boot-admin (paths below
``spring-boot-admin-client/src/main/java/de/codecentric/boot/admin/client/``):

- ``config/ClientProperties.getAdminUrl``: the registration URL is
  ``{url}/{api_path}`` (``instances``), for each configured server.
- ``registration/DefaultApplicationFactory.createApplication``: the body is
  ``{"name", "managementUrl", "healthUrl", "serviceUrl", "metadata"}``; unset
  URLs are derived from this host and the listening port (``prefer_ip``: the
  address, not the name), the management URL from the service URL and the
  actuator's base path, the health URL below it.
- ``registration/metadata/StartupDateMetadataContributor``: ``metadata.startup``
  is the start time (ISO 8601).
- ``registration/BlockingRegistrationClient``: ``POST`` with JSON, ``Accept:
  application/json``, the instance id read from the answer's ``id``;
  ``DELETE {url}/{api_path}/{id}`` to deregister.
- ``registration/DefaultApplicationRegistrator.register``: every server in
  turn; with ``register_once`` (the default) the first that accepts ends the
  round. The first failure at a server is logged as a warning, the next ones
  at debug level.
- ``registration/RegistrationApplicationListener``: registration repeats every
  ``period`` (10 s) from start-up; on shutdown, with ``auto_deregistration``,
  the instance deregisters.

One difference: while no server accepts, the registrator backs off
exponentially with full jitter (``actuator.client.Backoff``, up to
``max_backoff``) instead of retrying every period, so a fleet that lost its
Spring Boot Admin does not return to it all at once. Every call has a deadline
(``timeout``); nothing here blocks or fails the app. The password is sent as
HTTP basic credentials and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from actuator._calls import cancel_and_wait
from actuator.client import Backoff, RetryPolicy, request
from actuator.settings import SpringBootAdminSettings

logger = logging.getLogger("actuator.spring_boot_admin")

_ONCE = RetryPolicy(attempts=1)  # the loop retries, with its own back-off
_WILDCARDS = frozenset({"0.0.0.0", "::"})


class NotReady(Exception):
    """The instance's URLs cannot be derived yet (no listening port found)."""


def listening_addresses() -> list[tuple[str, int]]:
    """``(address, port)`` of this process's listening TCP sockets, lowest port first.

    Read from ``/proc`` (Linux): the sockets in ``/proc/self/net/tcp{,6}`` that
    are in LISTEN state and whose inode is one of this process's descriptors.
    Elsewhere: empty (set ``service_url``).
    """
    inodes = set()
    try:
        descriptors = os.listdir("/proc/self/fd")
    except OSError:
        return []
    for fd in descriptors:
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = Path(f"/proc/self/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != "0A" or fields[9] not in inodes:
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)
            if sys.byteorder == "little":
                # /proc prints the address as 32-bit words in host byte order.
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add((socket.inet_ntop(family, raw), int(port, 16)))
    return sorted(found, key=lambda item: (item[1], item[0]))


def _host(bound: str, prefer_ip: bool) -> str:
    """The host in a default URL: the bound address, or this host when bound to all."""
    if bound not in _WILDCARDS:
        host = bound
    elif prefer_ip:
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    else:
        host = socket.gethostname()
    return f"[{host}]" if ":" in host else host


class SpringBootAdminRegistrator:
    """Keeps this instance registered with Spring Boot Admin (see the module docstring).

    Parameters:
        settings: the ``spring_boot_admin`` settings (``url`` must be set).
        base_path: the actuator's base path (``/actuator``), for the default URLs.
        name: an async function giving the instance name when ``settings.name`` is unset.
        management_port: the port of the actuator's own management server, if it has one.
        listening: this process's listening addresses (default: read from ``/proc``).
        client: an ``httpx.AsyncClient`` (default: one of its own).
        backoff: the back-off while no server accepts (default: up to ``max_backoff``).
    """

    def __init__(
        self,
        settings: SpringBootAdminSettings,
        *,
        base_path: str = "/actuator",
        name: Callable[[], Awaitable[str]] | None = None,
        management_port: Callable[[], int | None] = lambda: None,
        listening: Callable[[], list[tuple[str, int]]] = listening_addresses,
        client: httpx.AsyncClient | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        if not settings.url:
            raise ValueError("spring_boot_admin.url must be set to register with Spring Boot Admin")
        self.settings = settings
        self.base_path = base_path
        self._name = name
        self._management_port = management_port
        self._listening = listening
        self._client = client
        self._own_client = client is None
        self.backoff = backoff or Backoff(
            base=min(0.5, settings.period), cap=max(settings.max_backoff, min(0.5, settings.period))
        )
        self.started = datetime.now(timezone.utc)
        self.registered_id: str | None = None
        self.registrations = 0
        self._failed_at: set[str] = set()
        self._not_ready_logged = False
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            if self._client is None:
                self._client = httpx.AsyncClient()
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="spring-boot-admin-registration"
            )

    async def stop(self) -> None:
        """Stop registering; deregister (within one ``timeout`` per server) when configured."""
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task, self.settings.timeout)
            if self.settings.auto_deregistration:
                await self.deregister()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        while True:
            try:
                accepted = await self.register()
            except NotReady as exc:
                if not self._not_ready_logged:
                    logger.info("Spring Boot Admin registration waits: %s", exc)
                    self._not_ready_logged = True
                accepted = False
            if accepted:
                self.backoff.reset()
                await asyncio.sleep(self.settings.period)
            else:
                await asyncio.sleep(self.backoff.next())

    # -- the protocol ---------------------------------------------------------

    async def application(self) -> dict[str, Any]:
        """The registration body, as ``DefaultApplicationFactory.createApplication`` builds it."""
        settings = self.settings
        service_url = settings.service_url
        management_url = settings.management_url
        if service_url is None or (management_url is None and settings.health_url is None):
            listening = self._listening()
            if service_url is None:
                if not listening:
                    raise NotReady(
                        "no listening port found yet; set spring_boot_admin.service_url "
                        "(ACTUATOR_SPRING_BOOT_ADMIN__SERVICE_URL) to register at once"
                    )
                bound, port = listening[0]
                service_url = f"http://{_host(bound, settings.prefer_ip)}:{port}/"
            if management_url is None:
                management_url = self._default_management_url(service_url, listening)
        elif management_url is None:
            management_url = service_url.rstrip("/") + self.base_path
        health_url = settings.health_url or management_url.rstrip("/") + "/health"
        name = settings.name or (await self._name() if self._name else None)
        metadata = {"startup": self.started.isoformat(timespec="milliseconds")}
        metadata.update(settings.metadata)
        return {
            "name": name or "spring-boot-application",
            "managementUrl": management_url,
            "healthUrl": health_url,
            "serviceUrl": service_url,
            "metadata": metadata,
        }

    def _default_management_url(self, service_url: str, listening: list[tuple[str, int]]) -> str:
        port = self._management_port()
        if port is None:
            return service_url.rstrip("/") + self.base_path
        # The actuator has a port of its own (management_server.enabled), at its root
        # unless a base path is set, as Spring's management.server.port.
        bound = next((address for address, p in listening if p == port), "0.0.0.0")
        return f"http://{_host(bound, self.settings.prefer_ip)}:{port}{self.base_path}"

    async def register(self) -> bool:
        """One registration round; whether a server accepted (``registered_id`` is set)."""
        application = await self.application()
        accepted = False
        for server in self.settings.url:
            try:
                self.registered_id = await self._register_at(server, application)
            except Exception as exc:
                self._log_failure(server, exc)
                continue
            if server in self._failed_at:
                logger.info("Spring Boot Admin %s reachable again", server)
                self._failed_at.discard(server)
            accepted = True
            self.registrations += 1
            if self.settings.register_once:
                break
        return accepted

    async def _register_at(self, server: str, application: dict[str, Any]) -> str:
        answer = await self._call("POST", f"{server}/{self.settings.api_path}", json=application)
        if not answer.is_success:
            raise RegistrationRefused(f"answered {answer.status_code}")
        try:
            body = answer.json()
        except ValueError:
            raise RegistrationRefused("answered without a JSON body") from None
        if not isinstance(body, dict) or not body.get("id"):
            raise RegistrationRefused("answered without an id")
        registered = str(body["id"])
        if self.registered_id != registered:
            logger.info("Registered with Spring Boot Admin %s as %s", server, registered)
        return registered

    async def deregister(self) -> None:
        """``DELETE`` the registration at each server (the first that answers, with
        ``register_once``); failures are logged, never raised."""
        registered = self.registered_id
        if registered is None:
            return
        for server in self.settings.url:
            url = f"{server}/{self.settings.api_path}/{registered}"
            try:
                answer = await self._call("DELETE", url)
                if not answer.is_success and answer.status_code != 404:
                    raise RegistrationRefused(f"answered {answer.status_code}")
            except Exception as exc:
                logger.warning(
                    "Deregistering %s at Spring Boot Admin %s failed: %s",
                    registered,
                    server,
                    _reason(exc),
                )
                continue
            self.registered_id = None
            if self.settings.register_once:
                break

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        if self._client is None:
            raise RuntimeError("the Spring Boot Admin registrator is not started")
        settings = self.settings
        if settings.username is not None and settings.password is not None:
            kwargs["auth"] = httpx.BasicAuth(
                settings.username, settings.password.get_secret_value()
            )
        return await request(
            self._client,
            method,
            url,
            deadline=settings.timeout,
            policy=_ONCE,
            propagate_deadline=False,
            headers={"accept": "application/json"},
            **kwargs,
        )

    def _log_failure(self, server: str, exc: Exception) -> None:
        if server not in self._failed_at:
            self._failed_at.add(server)
            logger.warning(
                "Registering with Spring Boot Admin %s failed: %s; retrying with back-off "
                "(further failures are logged at debug level)",
                server,
                _reason(exc),
            )
        else:
            logger.debug("Registering with Spring Boot Admin %s failed: %s", server, _reason(exc))


def _reason(exc: Exception) -> str:
    # The exception type and its own words; httpx's messages name the URL, never the
    # password (credentials go in a header, and server URLs may not hold any).
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class RegistrationRefused(Exception):
    """The server answered, but not with a registration id."""
