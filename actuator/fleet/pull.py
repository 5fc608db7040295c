"""Pull mode: the console polls instances that cannot push.

For older deployments, sidecars, and non-Python services with a
Spring-compatible actuator. Targets come in *sets*, each with its own
credentials, from a static list, a file re-read when it changes, and DNS names
re-resolved every ``resolve_every`` seconds (A/AAAA records through the
system resolver; SRV records through dnspython)::

    [pull]
    interval = 10                         # seconds between polls of one target
    timeout = 2                           # deadline per request
    concurrency = 200                     # requests in flight at most

    [[pull.sets]]
    name = "legacy"
    urls = ["http://10.0.0.7:8080/actuator"]
    file = "/etc/fleet/legacy-targets.txt"    # one URL per line, '#' comments
    dns = ["orders.internal:8080"]            # every A/AAAA address, that port
    srv = ["_actuator._tcp.billing.internal"] # every SRV target and port
    token_env = "LEGACY_ACTUATOR_TOKEN"       # bearer token, from the environment

Instances that registered themselves through Spring Boot Admin's protocol
(``actuator.fleet.sba_server``) are polled the same way, at the health and
management URLs they gave, with the credentials from their metadata.

Each target is polled on its own schedule, so a hung target (held to one
``timeout``) or a dead one (backed off exponentially with full jitter, up to
``max_backoff``) never delays the others. ``/health`` is read every
``interval``; ``/info`` at first contact and every ``info_every`` seconds. A
target that stops answering is not reported DOWN: it goes silent, and the
console marks it DISCONNECTED after ``disconnect_after``, as for pushed ones.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from actuator.client import Backoff
from actuator.fleet.model import InstanceUpdate
from actuator.fleet.pusher import registration_from_info
from actuator.fleet.reach import Credentials, client_options

logger = logging.getLogger("actuator.fleet.pull")

_REGISTERED = "registered:"  # the key prefix of registered targets (never a URL)
_STATUS = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
_HOST_PORT = re.compile(r"\[?([^\]\s]+?)\]?:(\d{1,5})\Z")


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSet(Credentials):
    """Targets sharing credentials (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    urls: list[str] = Field(default_factory=list, description="actuator base URLs")
    file: Path | None = Field(default=None, description="a file of base URLs, re-read")
    dns: list[str] = Field(default_factory=list, description="host:port, all A/AAAA addresses")
    srv: list[str] = Field(default_factory=list, description="SRV names, all targets")
    scheme: str = Field(default="http", pattern=r"^https?$")
    path: str = Field(default="/actuator", description="base path on DNS-found targets")

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:
        for url in value:
            _check_url(url)
        return [u.rstrip("/") for u in value]

    @field_validator("dns")
    @classmethod
    def _dns(cls, value: list[str]) -> list[str]:
        for item in value:
            if not _HOST_PORT.match(item):
                raise ValueError(f"dns entries are host:port, got {item!r}")
        return value


class PullConfig(_Config):
    interval: float = Field(default=10.0, gt=0, le=3600)
    timeout: float = Field(default=2.0, gt=0, le=60)
    concurrency: int = Field(default=200, ge=1, le=10_000)
    info_every: float = Field(default=300.0, gt=0)
    resolve_every: float = Field(default=30.0, gt=0)
    max_backoff: float = Field(default=300.0, gt=0)
    nameservers: list[str] = Field(
        default_factory=list,
        description="DNS servers (host or host:port) for dns and srv names; default: the system's",
    )
    sets: list[TargetSet] = Field(default_factory=list)

    @field_validator("nameservers")
    @classmethod
    def _nameservers(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                _nameserver(item)
            except ValueError:
                raise ValueError(
                    f"nameservers are IP addresses, with :port if not 53, got {item[:60]!r}"
                ) from None
        return value


def _nameserver(text: str) -> tuple[str, int]:
    """``(address, port)`` of ``1.2.3.4``, ``1.2.3.4:5353``, ``::1`` or ``[::1]:5353``."""
    if text.startswith("["):  # [::1]:5353
        host, _, rest = text[1:].partition("]")
        port = int(rest.removeprefix(":")) if rest else 53
    elif text.count(":") == 1:  # 127.0.0.1:5353
        host, _, number = text.partition(":")
        port = int(number)
    else:  # 127.0.0.1 or ::1
        host, port = text, 53
    ipaddress.ip_address(host)
    if not 0 < port < 65536:
        raise ValueError(f"port out of range: {port}")
    return host, port


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"target URLs are http(s)://host[:port]/path, got {url[:100]!r}")


def _basic(auth: tuple[str, str]) -> dict[str, str]:
    pair = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    return {"authorization": f"Basic {pair}"}


def target_id(url: str) -> str:
    """The instance id of a pulled target: ``host:port`` plus its path, as id characters."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = parts.path.strip("/").replace("/", ".")
    base = f"{parts.hostname}:{port}"
    text = base if path in ("", "actuator") else f"{base}.{path}"
    return re.sub(r"[^A-Za-z0-9_.:@-]", "-", text)[:200]


@dataclass(frozen=True)
class Registered:
    """A target that registered itself (Spring Boot Admin's protocol), not found in a set.

    ``auth`` is the HTTP basic pair its actuator is read with: never shown.
    """

    id: str
    service: str
    health_url: str
    management_url: str | None
    facts: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = field(default=None, repr=False)


@dataclass
class _Target:
    url: str
    set_name: str
    due: float = 0.0
    info_due: float = 0.0
    registration: dict[str, Any] | None = None
    backoff: Backoff = field(default_factory=Backoff)
    in_flight: bool = False
    failing: bool = False
    iid: str = ""
    health_url: str = ""
    info_url: str | None = ""
    service: str | None = None  # a registered target's own name
    facts: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] | None = field(default=None, repr=False)  # HTTP basic, if any
    credentials: str = ""  # the key of its credentials: the set's name, or _REGISTERED

    def __post_init__(self) -> None:
        self.iid = self.iid or target_id(self.url)
        self.credentials = self.credentials or self.set_name
        self.health_url = self.health_url or self.url + "/health"
        if self.info_url == "":
            self.info_url = self.url + "/info"


Resolver = Callable[[str], Awaitable[list[tuple[str, int]]]]


async def resolve_srv(name: str) -> list[tuple[str, int]]:
    """``(host, port)`` of every SRV record of ``name`` (dnspython)."""
    import dns.asyncresolver

    answer = await dns.asyncresolver.resolve(name, "SRV")
    return [(str(r.target).rstrip("."), int(r.port)) for r in answer]


class DnsResolver:
    """SRV and A/AAAA lookups at the given nameservers (``pull.nameservers``), through
    dnspython, instead of the system's resolver."""

    def __init__(self, nameservers: Sequence[str]) -> None:
        import dns.asyncresolver
        import dns.nameserver

        self.resolver = dns.asyncresolver.Resolver(configure=False)
        self.resolver.nameservers = [
            dns.nameserver.Do53Nameserver(host, port=port)
            for host, port in map(_nameserver, nameservers)
        ]

    async def srv(self, name: str) -> list[tuple[str, int]]:
        answer = await self.resolver.resolve(name, "SRV")
        return [(str(r.target).rstrip("."), int(r.port)) for r in answer]

    async def addresses(self, host_port: str) -> list[tuple[str, int]]:
        import dns.resolver

        match = _HOST_PORT.match(host_port)
        if match is None:
            return []
        host, port = match.group(1), int(match.group(2))
        found: set[tuple[str, int]] = set()
        for kind in ("A", "AAAA"):
            try:
                answer = await self.resolver.resolve(host, kind)
            except dns.resolver.NoAnswer:
                continue
            found.update((str(record), port) for record in answer)
        if not found:
            raise LookupError(f"no A or AAAA record for {host}")
        return sorted(found)


async def resolve_addresses(host_port: str) -> list[tuple[str, int]]:
    """Every A/AAAA address of ``host:port``, through the system resolver."""
    match = _HOST_PORT.match(host_port)
    if match is None:
        return []
    host, port = match.group(1), int(match.group(2))
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({(str(info[4][0]), port) for info in infos})


class Poller:
    """Polls the targets of ``config`` and hands what it learns to ``ingest``.

    Polls go through aiohttp, one connection pool per set of credentials: at thousands
    of targets the HTTP client's own cost per request is most of the console's work, and
    aiohttp's (its C parser, no per-request cancel scopes or pool scans) is about a
    sixth of httpx's (measured with benchmarks/fleet.py --pull). Calls made for the
    read proxy and actions (``client_for``) stay on httpx, as the rest of the console.

    Parameters:
        config: the ``[pull]`` section.
        ingest: an async function taking a batch of ``InstanceUpdate`` (the store's).
        srv: the SRV resolver (default: dnspython's).
        addresses: the A/AAAA resolver (default: the system's).
    """

    def __init__(
        self,
        config: PullConfig,
        ingest: Callable[[Sequence[InstanceUpdate]], Awaitable[Any]],
        *,
        srv: Resolver = resolve_srv,
        addresses: Resolver = resolve_addresses,
    ) -> None:
        self.config = config
        self._ingest = ingest
        if config.nameservers:
            resolver = DnsResolver(config.nameservers)
            srv = resolver.srv if srv is resolve_srv else srv
            addresses = resolver.addresses if addresses is resolve_addresses else addresses
        self._srv = srv
        self._addresses = addresses
        self.targets: dict[str, _Target] = {}
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._options: dict[str, tuple[dict[str, str], ssl.SSLContext | bool]] = {}
        self._files: dict[Path, tuple[float, list[str]]] = {}
        self._dns: dict[str, list[tuple[str, int]]] = {}
        self._by_id: dict[str, _Target] = {}
        self._pending: list[InstanceUpdate] = []
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._resolved_at = -1e18
        self._wake = asyncio.Event()  # a poll finished and its target is due before _wake_at
        self._wake_at = 0.0
        self.registered: dict[str, Registered] = {}
        self.polls = 0

    # -- targets --------------------------------------------------------------

    def _set_options(self, target_set: TargetSet) -> None:
        """A set's headers and TLS context, made once (``ValueError`` naming a missing token)."""
        if target_set.name not in self._options:
            headers, verify = client_options(target_set, f"pull.sets.{target_set.name}")
            if verify is True:
                verify = httpx.create_ssl_context()  # one context for the set, not one per pool
            self._options[target_set.name] = (headers, verify)

    def _session(self, credentials: str) -> aiohttp.ClientSession:
        """The poll session of a set of credentials (made in the running loop, at first use)."""
        session = self._sessions.get(credentials)
        if session is None:
            headers, verify = self._options[credentials]
            connector = aiohttp.TCPConnector(
                limit=self.config.concurrency,
                ssl=verify,
                # Kept alive from one poll to the next, whatever the interval.
                keepalive_timeout=self.config.interval + self.config.timeout + 5,
            )
            session = self._sessions[credentials] = aiohttp.ClientSession(
                connector=connector,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.config.timeout),
                cookie_jar=aiohttp.DummyCookieJar(),  # targets never share cookies
            )
        return session

    def register(self, target: Registered) -> None:
        """Poll a registered target from now on (a new one at once); replaces one with its id."""
        known = self.registered.get(target.id)
        self.registered[target.id] = target
        if known != target:
            self.targets.pop(_REGISTERED + target.id, None)
            self._add_registered(target, time.monotonic())

    def deregister(self, instance_id: str) -> None:
        self.registered.pop(instance_id, None)
        self.targets.pop(_REGISTERED + instance_id, None)

    def _add_registered(self, target: Registered, now: float) -> None:
        if _REGISTERED not in self._options:
            self._options[_REGISTERED] = (
                {"accept": "application/json"},
                httpx.create_ssl_context(),
            )
        management = target.management_url
        self.targets[_REGISTERED + target.id] = _Target(
            management or target.health_url,
            target.service,
            due=now,
            backoff=Backoff(base=self.config.interval, cap=self.config.max_backoff),
            iid=target.id,
            health_url=target.health_url,
            info_url=f"{management}/info" if management else None,
            service=target.service,
            facts=dict(target.facts),
            headers=_basic(target.auth) if target.auth else None,
            credentials=_REGISTERED,
        )

    def client_for(self, url: str) -> httpx.AsyncClient | None:
        """An httpx client with the credentials of a polled base URL, if it is one."""
        target = self.targets.get(url.rstrip("/"))
        if target is None:
            return None
        client = self._clients.get(target.credentials)
        if client is None:
            headers, verify = self._options[target.credentials]
            limits = httpx.Limits(
                max_connections=self.config.concurrency,
                max_keepalive_connections=self.config.concurrency,
            )
            client = self._clients[target.credentials] = httpx.AsyncClient(
                headers=headers, verify=verify, limits=limits, timeout=self.config.timeout
            )
        return client

    async def aclose(self) -> None:
        """Stop the polls in flight and close every connection."""
        for task in list(self._tasks):
            task.cancel()
        for session in self._sessions.values():
            await session.close()
        for client in self._clients.values():
            await client.aclose()
        self._sessions.clear()
        self._clients.clear()

    async def resolve(self) -> None:
        """Re-read files and DNS; add new targets, drop the ones that are gone."""
        wanted: dict[str, TargetSet] = {}
        for target_set in self.config.sets:
            self._set_options(target_set)
            for url in await self._urls(target_set):
                wanted.setdefault(url, target_set)
        for url in list(self.targets):
            if url not in wanted and not url.startswith(_REGISTERED):
                del self.targets[url]
        now = time.monotonic()
        for url, target_set in wanted.items():
            if url not in self.targets:
                # Spread first polls over one interval: no burst of thousands at start.
                offset = (hash(url) % 1000) / 1000 * self.config.interval
                self.targets[url] = _Target(
                    url,
                    target_set.name,
                    due=now + offset,
                    backoff=Backoff(base=self.config.interval, cap=self.config.max_backoff),
                )
        self._resolved_at = now

    async def _urls(self, target_set: TargetSet) -> list[str]:
        urls = list(target_set.urls)
        if target_set.file is not None:
            urls += self._read_file(target_set.file)
        found: list[tuple[str, int]] = []
        for name in target_set.dns:
            found += await self._lookup(self._addresses, name)
        for name in target_set.srv:
            found += await self._lookup(self._srv, name)
        for host, port in found:
            host_text = f"[{host}]" if ":" in host else host
            urls.append(f"{target_set.scheme}://{host_text}:{port}{target_set.path}".rstrip("/"))
        return urls

    async def _lookup(self, resolver: Resolver, name: str) -> list[tuple[str, int]]:
        try:
            found = await asyncio.wait_for(resolver(name), self.config.timeout)
        except Exception as exc:
            # A failed lookup keeps the last answer: a DNS hiccup must not empty the fleet.
            logger.warning(
                "fleet pull: resolving %s failed (%s); keeping its last answer",
                name,
                type(exc).__name__,
            )
            return self._dns.get(name, [])
        self._dns[name] = found
        return found

    def _read_file(self, path: Path) -> list[str]:
        try:
            mtime = path.stat().st_mtime
        except OSError as exc:
            logger.warning("fleet pull: cannot read targets file %s: %s", path, exc)
            return self._files.get(path, (0.0, []))[1]
        cached = self._files.get(path)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        urls = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                _check_url(text)
            except ValueError as exc:
                logger.warning("fleet pull: %s line %d: %s", path, number, exc)
                continue
            urls.append(text.rstrip("/"))
        self._files[path] = (mtime, urls)
        return urls

    # -- polling --------------------------------------------------------------

    async def run(self) -> None:
        """Poll forever (cancel to stop); flushes results to ``ingest`` twice a second."""
        try:
            while True:
                if time.monotonic() - self._resolved_at >= self.config.resolve_every:
                    await self.resolve()
                next_due = self.schedule()
                await self.flush()
                # Within 50 ms of the next due poll, and at least twice a second for the
                # flush; sooner when a poll ends whose target is due before then.
                now = time.monotonic()
                self._wake_at = min(now + 0.5, max(now + 0.05, next_due))
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._wake_at - now)
        finally:
            await self.aclose()

    def schedule(self) -> float:
        """Start a poll of every due target not already being polled; the next due time."""
        now = time.monotonic()
        next_due = now + 0.5
        for target in self.targets.values():
            if target.in_flight:
                continue
            if target.due <= now:
                target.in_flight = True
                task = asyncio.get_running_loop().create_task(self._poll(target))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif target.due < next_due:
                next_due = target.due
        return next_due

    async def flush(self) -> None:
        if self._pending:
            batch, self._pending = self._pending, []
            try:
                result = await self._ingest(batch)
            except Exception:
                logger.exception("fleet pull: storing %d results failed", len(batch))
                return
            for iid in getattr(result, "unknown", ()):
                # The console forgot it (e.g. after forget_after): register afresh.
                target = self._by_id.get(iid)
                if target is not None:
                    target.registration = None

    async def _poll(self, target: _Target) -> None:
        try:
            async with self._semaphore:
                update = await self._check(target, self._session(target.credentials))
        except Exception as exc:
            target.due = time.monotonic() + target.backoff.next()
            if not target.failing:
                logger.info(
                    "fleet pull: %s failed (%s); backing off", target.url, type(exc).__name__
                )
                target.failing = True
            target.registration = None  # register afresh when it is back
        else:
            target.backoff.reset()
            target.failing = False
            target.due = time.monotonic() + self.config.interval
            self._pending.append(update)
            self.polls += 1
        finally:
            target.in_flight = False
            if target.due < self._wake_at:
                self._wake.set()

    async def _check(self, target: _Target, session: aiohttp.ClientSession) -> InstanceUpdate:
        # The session's total timeout is the deadline of each request, body included.
        async with session.get(target.health_url, headers=target.headers) as answer:
            if answer.status not in (200, 503):
                raise RuntimeError(f"health answered {answer.status}")
            body = json.loads(await answer.read())
        status = str(body.get("status", "UNKNOWN")).upper() if isinstance(body, dict) else ""
        if not _STATUS.fullmatch(status):
            status = "UNKNOWN"
        components = body.get("components") if isinstance(body, dict) else None
        down = (
            sorted(
                name[:200]
                for name, c in components.items()
                if isinstance(c, dict) and c.get("status") != "UP"
            )[:100]
            if isinstance(components, dict)
            else []
        )
        now = time.monotonic()
        iid = target.iid
        self._by_id[iid] = target
        if target.registration is None or now >= target.info_due:
            info: Any = {}
            if target.info_url is not None:
                with contextlib.suppress(Exception):
                    async with session.get(target.info_url, headers=target.headers) as reply:
                        if reply.status == 200:
                            info = json.loads(await reply.read())
            details = registration_from_info(info if isinstance(info, dict) else {})
            if target.service is not None:
                details["service"] = target.service
                details["facts"] = dict(list({**details["facts"], **target.facts}.items())[:64])
            elif details["service"] == "unnamed":
                details["service"] = target.set_name
            target.registration = details
            target.info_due = now + self.config.info_every
            return InstanceUpdate.model_validate(
                {
                    "type": "register",
                    "id": iid,
                    "status": status,
                    "components": down,
                    "url": target.url,
                    **details,
                }
            )
        return InstanceUpdate(type="status", id=iid, status=status, components=down)
