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
import contextlib
import ipaddress
import logging
import os
import re
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from actuator.client import Backoff
from actuator.fleet.model import InstanceUpdate
from actuator.fleet.pusher import registration_from_info

logger = logging.getLogger("actuator.fleet.pull")

_REGISTERED = "registered:"  # the key prefix of registered targets (never a URL)
_HOST_PORT = re.compile(r"\[?([^\]\s]+?)\]?:(\d{1,5})\Z")


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetSet(_Config):
    """Targets sharing credentials (see the module docstring)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    urls: list[str] = Field(default_factory=list, description="actuator base URLs")
    file: Path | None = Field(default=None, description="a file of base URLs, re-read")
    dns: list[str] = Field(default_factory=list, description="host:port, all A/AAAA addresses")
    srv: list[str] = Field(default_factory=list, description="SRV names, all targets")
    scheme: str = Field(default="http", pattern=r"^https?$")
    path: str = Field(default="/actuator", description="base path on DNS-found targets")
    token_env: str | None = Field(default=None, description="variable holding a bearer token")
    client_cert: Path | None = Field(default=None, description="PEM certificate for mTLS")
    client_key: Path | None = Field(default=None, description="its private key")
    ca: Path | None = Field(default=None, description="CA bundle to verify the targets")

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


_SHARDS = 256
"""httpx clients per target set, targets spread over them by URL. httpcore's pool scans
every connection it holds on each request, so one pool for thousands of targets costs
more CPU than the polls themselves (measured with benchmarks/fleet.py --pull); small
pools keep each scan short, and a target always uses the same one, so its connection
is kept alive from poll to poll."""


def _shard(url: str) -> int:
    return zlib.crc32(url.encode()) % _SHARDS


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
    client: httpx.AsyncClient
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
    auth: tuple[str, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.iid = self.iid or target_id(self.url)
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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = config
        self._ingest = ingest
        if config.nameservers:
            resolver = DnsResolver(config.nameservers)
            srv = resolver.srv if srv is resolve_srv else srv
            addresses = resolver.addresses if addresses is resolve_addresses else addresses
        self._srv = srv
        self._addresses = addresses
        self._transport = transport
        self.targets: dict[str, _Target] = {}
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._set_options: dict[str, tuple[dict[str, str], ssl.SSLContext | bool]] = {}
        self._registered_tls: ssl.SSLContext | None = None
        self._files: dict[Path, tuple[float, list[str]]] = {}
        self._dns: dict[str, list[tuple[str, int]]] = {}
        self._by_id: dict[str, _Target] = {}
        self._pending: list[InstanceUpdate] = []
        self._semaphore = asyncio.Semaphore(config.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._resolved_at = -1e18
        self.registered: dict[str, Registered] = {}
        self.polls = 0

    # -- targets --------------------------------------------------------------

    def _client(self, target_set: TargetSet, url: str) -> httpx.AsyncClient:
        key = f"{target_set.name}#{_shard(url)}"
        client = self._clients.get(key)
        if client is None:
            headers, verify = self._options(target_set)
            client = self._new_client(headers, verify)
            self._clients[key] = client
        return client

    def _new_client(
        self, headers: dict[str, str], verify: ssl.SSLContext | bool
    ) -> httpx.AsyncClient:
        limits = httpx.Limits(
            max_connections=self.config.concurrency,
            max_keepalive_connections=self.config.concurrency,
        )
        return httpx.AsyncClient(
            headers=headers,
            verify=verify,
            limits=limits,
            transport=self._transport,
            timeout=self.config.timeout,
        )

    def _options(self, target_set: TargetSet) -> tuple[dict[str, str], ssl.SSLContext | bool]:
        """A set's headers and TLS context, made once and shared by its clients."""
        options = self._set_options.get(target_set.name)
        if options is None:
            headers = {"accept": "application/json"}
            if target_set.token_env:
                token = os.environ.get(target_set.token_env)
                if not token:
                    raise ValueError(
                        f"pull.sets.{target_set.name}.token_env: ${target_set.token_env} is not set"
                    )
                headers["authorization"] = f"Bearer {token}"
            verify: ssl.SSLContext | bool = True
            if target_set.ca or target_set.client_cert:
                context = ssl.create_default_context(
                    cafile=str(target_set.ca) if target_set.ca else None
                )
                if target_set.client_cert:
                    context.load_cert_chain(
                        str(target_set.client_cert),
                        str(target_set.client_key) if target_set.client_key else None,
                    )
                verify = context
            if verify is True:
                # One TLS context for the set's clients (httpx would load one per client).
                verify = httpx.create_ssl_context()
            options = self._set_options[target_set.name] = (headers, verify)
        return options

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
        management = target.management_url
        self.targets[_REGISTERED + target.id] = _Target(
            management or target.health_url,
            target.service,
            self._registered_client(management or target.health_url),
            due=now,
            backoff=Backoff(base=self.config.interval, cap=self.config.max_backoff),
            iid=target.id,
            health_url=target.health_url,
            info_url=f"{management}/info" if management else None,
            service=target.service,
            facts=dict(target.facts),
            auth=target.auth,
        )

    def _registered_client(self, url: str) -> httpx.AsyncClient:
        key = f"{_REGISTERED}#{_shard(url)}"
        client = self._clients.get(key)
        if client is None:
            if self._registered_tls is None:
                self._registered_tls = httpx.create_ssl_context()
            client = self._new_client({"accept": "application/json"}, self._registered_tls)
            self._clients[key] = client
        return client

    async def resolve(self) -> None:
        """Re-read files and DNS; add new targets, drop the ones that are gone."""
        wanted: dict[str, TargetSet] = {}
        for target_set in self.config.sets:
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
                    self._client(target_set, url),
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
                self.schedule()
                await self.flush()
                await asyncio.sleep(self._until_next())
        finally:
            for task in list(self._tasks):
                task.cancel()
            for client in self._clients.values():
                await client.aclose()

    def _until_next(self) -> float:
        """Seconds to the next due poll, within 20 ms and 500 ms (results flush as often)."""
        waiting = [t.due for t in self.targets.values() if not t.in_flight]
        gap = min(waiting) - time.monotonic() if waiting else 0.5
        return min(0.5, max(0.02, gap))

    def schedule(self) -> None:
        """Start a poll of every due target not already being polled."""
        now = time.monotonic()
        for target in self.targets.values():
            if not target.in_flight and target.due <= now:
                target.in_flight = True
                task = asyncio.get_running_loop().create_task(self._poll(target))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

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
                update = await self._check(target)
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

    async def _check(self, target: _Target) -> InstanceUpdate:
        deadline = self.config.timeout  # per request, whatever the transport does
        answer = await asyncio.wait_for(
            target.client.get(target.health_url, auth=target.auth), deadline
        )
        if answer.status_code not in (200, 503):
            raise RuntimeError(f"health answered {answer.status_code}")
        body = answer.json()
        status = str(body.get("status", "UNKNOWN")).upper() if isinstance(body, dict) else ""
        if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,31}", status):
            status = "UNKNOWN"
        components = body.get("components") if isinstance(body, dict) else None
        down = sorted(
            name[:200]
            for name, c in (components or {}).items()
            if isinstance(c, dict) and c.get("status") != "UP"
        )[:100]
        now = time.monotonic()
        iid = target.iid
        self._by_id[iid] = target
        if target.registration is None or now >= target.info_due:
            info: dict[str, Any] = {}
            with contextlib.suppress(Exception):
                if target.info_url is not None:
                    reply = await asyncio.wait_for(
                        target.client.get(target.info_url, auth=target.auth), deadline
                    )
                    if reply.status_code == 200 and isinstance(reply.json(), dict):
                        info = reply.json()
            details = registration_from_info(info)
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
