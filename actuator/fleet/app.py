"""The console: an ASGI app serving the fleet API, with its own actuator.

::

    console = FleetConsole(load_config("fleet.toml"))
    # uvicorn.run(console)  or  actuator fleet serve --config fleet.toml

``POST /fleet/api/ingest``            a batch of updates (ingest token)
``GET  /fleet/api/counts``            instances and groups per status
``GET  /fleet/api/groups``            service groups: filters, sort, pages
``GET  /fleet/api/groups/{id}``       one group, a page of its instances, its history
``GET  /fleet/api/instances``         instances: filters, sort, pages
``GET  /fleet/api/instances/{id}``    one instance and its history
``GET  /actuator/health``             the console's own health (its database included)
``GET  /fleet/``                      the web dashboard (``actuator.fleet.web``)

Reading needs the ``read`` role; ingest an ingest token. The console's clock
decides staleness: an update's time is when it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from actuator._http import error_body, json_bytes
from actuator.core import Actuator
from actuator.fleet.config import ConsoleConfig
from actuator.fleet.jobs import Jobs, JobsLock, ProcessJobsLock, jobs_lock_for
from actuator.fleet.model import (
    GROUP_SORTS,
    INSTANCE_SORTS,
    GroupQuery,
    IngestBatch,
    IngestResult,
    InstanceQuery,
    InstanceUpdate,
)
from actuator.fleet.nats_ingest import NatsIngest
from actuator.fleet.pull import Poller
from actuator.fleet.query import ApiError
from actuator.fleet.query import descending as _descending
from actuator.fleet.query import integer as _integer
from actuator.fleet.query import params as _params
from actuator.fleet.query import sort as _sort
from actuator.fleet.query import statuses as _statuses
from actuator.fleet.query import where as _where
from actuator.fleet.store import FleetStore, SqlStore, open_store
from actuator.fleet.web import Dashboard
from actuator.health.result import Health
from actuator.security.auth import AuthError
from actuator.security.credentials import token_digest

logger = logging.getLogger("actuator.fleet")

API = "/fleet/api"


def _json(data: Any, status: int = 200) -> Response:
    return Response(
        json_bytes(data),
        status,
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


class FleetConsole:
    """The console app (see the module docstring).

    Parameters:
        config: the console configuration (``ConsoleConfig()``: defaults).
        store: a ``FleetStore`` (default: one for ``config.database``).
        clock: seconds since the epoch; tests pass their own.
        jobs_lock: the lock deciding which console runs the periodic jobs
            (default: the one that fits the database, see ``actuator.fleet.jobs``).

    Periodic jobs register with ``console.jobs.add(name, interval, one_round)``
    before the console starts; they run on one console at a time.
    """

    def __init__(
        self,
        config: ConsoleConfig | None = None,
        *,
        store: FleetStore | None = None,
        clock: Callable[[], float] = time.time,
        jobs_lock: JobsLock | None = None,
    ) -> None:
        self.config = config or ConsoleConfig()
        self.store: FleetStore = store or open_store(
            self.config.database, self.config.grouping.build()
        )
        self.clock = clock
        self._ingest_tokens = [
            (name, bytes.fromhex(hashed.removeprefix("sha256:")))
            for name, hashed in self.config.ingest_tokens.items()
        ]
        self.actuator = Actuator(name="fleet-console", settings=self.config.settings)
        self.actuator.add_indicator(
            "fleetDatabase", self._database_health, groups=["readiness"], timeout=2.0
        )
        if jobs_lock is None:
            store = self.store
            jobs_lock = (
                jobs_lock_for(store.dialect) if isinstance(store, SqlStore) else ProcessJobsLock()
            )
        self.jobs = Jobs(jobs_lock, retry=self.config.jobs.retry)
        """The periodic jobs: they run on the one console holding the jobs lock."""
        self.jobs.add("sweep", self.config.sweep_interval, self.sweep)
        self.actuator.add_indicator("fleetJobs", self._jobs_health, timeout=2.0)
        self._opened = False
        self.poller: Poller | None = None
        self.nats: NatsIngest | None = None
        if self.config.nats.url is not None:
            self.nats = NatsIngest(
                self.config.nats, self._pulled, registry=self.actuator.metrics.registry
            )
        routes: list[BaseRoute] = [
            Route(f"{API}/ingest", self.ingest, methods=["POST"]),
            Route(f"{API}/counts", self.counts, methods=["GET"]),
            Route(f"{API}/groups", self.groups, methods=["GET"]),
            Route(f"{API}/groups/{{group_id}}", self.group, methods=["GET"]),
            Route(f"{API}/instances", self.instances, methods=["GET"]),
            Route(f"{API}/instances/{{instance_id}}", self.instance, methods=["GET"]),
        ]
        # The dashboard reads the store directly and acts through this API, as
        # the caller: its session cookie is an identity here too.
        self.dashboard = Dashboard(
            self.store,
            self.actuator.guard,
            self.config.dashboard,
            page_size=self.config.page_size,
            clock=clock,
        )
        self.actuator.add_authenticator(self.dashboard.authenticator)
        routes += self.dashboard.routes()
        self.api = Starlette(
            routes=routes,
            lifespan=self._lifespan,
            exception_handlers={
                HTTPException: self._error,
                ApiError: self._error,
                AuthError: self._error,
            },
        )
        self.app = self.actuator.wrap(self.api)
        self.dashboard.api = self.app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    # -- lifecycle ------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.store.open()
        self._opened = True
        describe = self.store.describe() if isinstance(self.store, SqlStore) else "store"
        logger.info("fleet console storing in %s", describe)
        tasks = [asyncio.create_task(self.jobs.run(), name="fleet-jobs")]
        if self.config.pull.sets:
            self.poller = Poller(self.config.pull, self._pulled)
            tasks.append(asyncio.create_task(self.poller.run(), name="fleet-pull"))
        if self.nats is not None:
            tasks.append(asyncio.create_task(self.nats.run(), name="fleet-nats"))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self.store.close()
            self._opened = False

    async def _pulled(self, updates: Sequence[InstanceUpdate]) -> IngestResult:
        """Store updates that came by pull or NATS, timed by the console's clock."""
        return await self.store.ingest(updates, now=self.clock())

    async def sweep(self) -> None:
        """One sweep: DISCONNECTED, forget, history retention. Errors are logged, not raised."""
        config = self.config
        try:
            result = await self.store.sweep(
                self.clock(),
                disconnect_after=config.disconnect_after,
                forget_after=config.forget_after,
                keep_events=config.history.keep,
                events_max_age=config.history.max_age,
            )
        except Exception:
            logger.exception("fleet sweep failed; retrying in %ss", config.sweep_interval)
            return
        if result.disconnected or result.forgotten:
            logger.info(
                "fleet sweep: %d disconnected, %d forgotten", result.disconnected, result.forgotten
            )

    async def _jobs_health(self) -> Health:
        # A standby is as healthy as the leader: which one runs the jobs is a detail.
        return Health.up(**self.jobs.describe())

    async def _database_health(self) -> Health:
        if not self._opened:
            return Health.down("not opened yet")
        await self.store.ping()
        return Health.up()

    # -- errors ---------------------------------------------------------------

    async def _error(self, request: Request, exc: Exception) -> Response:
        """Every refusal as the actuator's JSON error body, never a traceback."""
        headers: dict[str, str] = {}
        if isinstance(exc, ApiError):
            status, message, headers = exc.status, exc.message, exc.headers
        elif isinstance(exc, AuthError):
            status, message, headers = exc.status, exc.message, dict(exc.headers)
            if exc.challenges:
                headers["www-authenticate"] = ", ".join(exc.challenges)
        elif isinstance(exc, HTTPException):
            status, headers = exc.status_code, dict(exc.headers or {})
            message = {404: "No such resource", 405: "Method not allowed"}.get(
                status, str(exc.detail)
            )
        else:  # pragma: no cover - only the three types above are registered
            raise exc
        if self.dashboard.owns(request.url.path):
            return self.dashboard.error_page(request, status, message, headers)
        return Response(
            error_body(status, message, request.url.path),
            status,
            media_type="application/json",
            headers=headers,
        )

    # -- security -------------------------------------------------------------

    async def _reader(self, request: Request) -> None:
        guard = self.actuator.guard
        caller = await guard.authenticate(request.scope)
        guard.authorize(caller, "fleet", "read", request.scope)

    def _ingester(self, request: Request) -> str:
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        digest = token_digest(token.strip()) if scheme.lower() == "bearer" else None
        found = None
        if digest is not None:
            for name, expected in self._ingest_tokens:
                if hmac.compare_digest(digest, expected):
                    found = name
        if found is None:
            reason = "Invalid ingest token" if value else "An ingest token is required"
            logger.warning(
                "fleet ingest refused (%s) from %s",
                reason.lower(),
                request.client.host if request.client else "unknown client",
            )
            raise ApiError(401, reason, {"www-authenticate": 'Bearer realm="fleet-ingest"'})
        return found

    # -- ingest ---------------------------------------------------------------

    async def ingest(self, request: Request) -> Response:
        self._ingester(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise ApiError(415, "Ingest takes application/json")
        limit = self.config.max_body
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"Request body larger than {limit} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"Request body larger than {limit} bytes")
            chunks.append(chunk)
        try:
            batch = IngestBatch.model_validate_json(b"".join(chunks))
        except ValidationError as exc:
            raise ApiError(400, _describe(exc)) from None
        result = await self.store.ingest(batch.updates, now=self.clock())
        return _json(result.json())

    # -- queries --------------------------------------------------------------

    async def counts(self, request: Request) -> Response:
        await self._reader(request)
        _params(request, set())
        return _json(await self.store.counts())

    async def groups(self, request: Request) -> Response:
        await self._reader(request)
        params = _params(
            request, {"status", "service", "where", "sort", "order", "offset", "limit"}
        )
        offset, limit = self._paging(params)
        query = GroupQuery(
            statuses=_statuses(params),
            services=params.get("service", []),
            facts=_where(params),
            sort=_sort(params, GROUP_SORTS, "status"),
            descending=_descending(params),
            offset=offset,
            limit=limit,
        )
        return _json((await self.store.groups(query)).json())

    async def group(self, request: Request) -> Response:
        await self._reader(request)
        group_id = request.path_params["group_id"]
        params = _params(
            request, {"status", "version", "where", "q", "sort", "order", "offset", "limit"}
        )
        found = await self.store.group(group_id)
        if found is None:
            raise ApiError(404, f"No service group {group_id[:100]!r}")
        found["members"] = (
            await self.store.instances(self._instance_query(params, group=group_id))
        ).json()
        found["history"] = await self.store.history("group", group_id)
        return _json(found)

    async def instances(self, request: Request) -> Response:
        await self._reader(request)
        params = _params(
            request,
            {
                "status",
                "service",
                "version",
                "group",
                "where",
                "q",
                "sort",
                "order",
                "offset",
                "limit",
            },
        )
        return _json((await self.store.instances(self._instance_query(params))).json())

    async def instance(self, request: Request) -> Response:
        await self._reader(request)
        _params(request, set())
        instance_id = request.path_params["instance_id"]
        found = await self.store.instance(instance_id)
        if found is None:
            raise ApiError(404, f"No instance {instance_id[:200]!r}")
        found["history"] = await self.store.history("instance", instance_id)
        return _json(found)

    def _instance_query(
        self, params: dict[str, list[str]], group: str | None = None
    ) -> InstanceQuery:
        offset, limit = self._paging(params)
        texts = params.get("q", [])
        return InstanceQuery(
            statuses=_statuses(params),
            services=params.get("service", []),
            versions=params.get("version", []),
            group=group or (params["group"][-1] if params.get("group") else None),
            facts=_where(params),
            text=texts[-1] if texts else None,
            sort=_sort(params, INSTANCE_SORTS, "id"),
            descending=_descending(params),
            offset=offset,
            limit=limit,
        )

    def _paging(self, params: dict[str, list[str]]) -> tuple[int, int]:
        offset = _integer(params, "offset", 0)
        limit = _integer(params, "limit", self.config.page_size)
        if limit < 1:
            raise ApiError(400, "Parameter 'limit' must be at least 1")
        # Pages are capped: nothing ever sends the whole fleet in one answer.
        return offset, min(limit, self.config.max_page_size)


def _describe(exc: ValidationError) -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    if first["type"] == "json_invalid":
        return f"Malformed JSON: {first['msg']}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"Invalid {where}: {first['msg']}{more}; nothing was stored"
