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
``GET  /fleet/api/notifications``     the delivery log: filters, pages
``GET  /fleet/api/mutes``             mutes that have not ended
``POST /fleet/api/mutes``             a new mute (full role)
``DELETE /fleet/api/mutes/{id}``      end a mute (full role)
``GET  /actuator/health``             the console's own health (its database included)
``POST /instances``                   Spring Boot Admin's client registration (when enabled)
``DELETE /instances/{id}``            its deregistration
``GET  /fleet/``                      the web dashboard (``actuator.fleet.web``)

Reading needs the ``read`` role; ingest an ingest token; registering through Spring
Boot Admin's protocol what ``[spring_boot_admin]`` allows (see ``sba_server``). The console's clock
decides staleness: an update's time is when it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

import httpx
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
from actuator.fleet.notify.channels import build_senders, redacted_logs
from actuator.fleet.notify.config import MuteConfig
from actuator.fleet.notify.notifier import STATES, Notifier
from actuator.fleet.pull import Poller
from actuator.fleet.query import ApiError
from actuator.fleet.query import descending as _descending
from actuator.fleet.query import integer as _integer
from actuator.fleet.query import params as _params
from actuator.fleet.query import sort as _sort
from actuator.fleet.query import statuses as _statuses
from actuator.fleet.query import where as _where
from actuator.fleet.sba_server import RegistrationError, parse_registration
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
        environ: where notification channels read their secrets (default ``os.environ``).
    """

    def __init__(
        self,
        config: ConsoleConfig | None = None,
        *,
        store: FleetStore | None = None,
        clock: Callable[[], float] = time.time,
        jobs_lock: JobsLock | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config or ConsoleConfig()
        self.store: FleetStore = store or open_store(
            self.config.database, self.config.grouping.build()
        )
        self.clock = clock
        notifications = self.config.notifications
        self._http = httpx.AsyncClient(follow_redirects=False) if notifications.channels else None
        senders = build_senders(
            notifications, os.environ if environ is None else environ, self._http
        )
        if not isinstance(self.store, SqlStore):
            raise TypeError("store: notifications keep their log in a SqlStore")
        self.notifier = Notifier(notifications, self.store, senders, clock=clock)
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
        if self.notifier.active:
            self.jobs.add("notify", self.config.notifications.interval, self.notify)
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
            Route(f"{API}/notifications", self.notifications, methods=["GET"]),
            Route(f"{API}/mutes", self.mutes, methods=["GET", "POST"]),
            Route(f"{API}/mutes/{{mute_id}}", self.mute, methods=["DELETE"]),
        ]
        sba = self.config.spring_boot_admin
        if sba.enabled:
            routes += [
                Route("/instances", self.sba_register, methods=["POST"]),
                Route("/instances/{instance_id}", self.sba_deregister, methods=["DELETE"]),
            ]
        self._registrants = [re.compile(p) for p in sba.principals]
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
        if self.config.pull.sets or self.config.spring_boot_admin.enabled:
            self.poller = Poller(self.config.pull, self._pulled)
            if self.config.spring_boot_admin.enabled:
                # Registrations survive a restart: poll them again at once.
                for registration in await self.store.registrations():
                    self.poller.register(registration.target())
            tasks.append(asyncio.create_task(self.poller.run(), name="fleet-pull"))
        if self.nats is not None:
            tasks.append(asyncio.create_task(self.nats.run(), name="fleet-nats"))
        try:
            with redacted_logs(self.notifier.senders):
                yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._http is not None:
                await self._http.aclose()
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

    async def notify(self) -> None:
        """One notification round (``Notifier.run_once``): evaluate the status changes
        recorded since the last round, then deliver. Errors are logged, not raised."""
        try:
            await self.notifier.run_once()
        except Exception:
            logger.exception(
                "fleet notification round failed; retrying in %ss",
                self.config.notifications.interval,
            )

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

    async def _writer(self, request: Request) -> str | None:
        """The caller's name, once it proved it has the full role."""
        guard = self.actuator.guard
        caller = await guard.authenticate(request.scope)
        guard.authorize(caller, "fleet", "write", request.scope)
        return caller.principal

    def _ingester(self, request: Request) -> str:
        value = request.headers.get("authorization", "")
        found = self._ingest_token(request)
        if found is None:
            reason = "Invalid ingest token" if value else "An ingest token is required"
            logger.warning(
                "fleet ingest refused (%s) from %s",
                reason.lower(),
                request.client.host if request.client else "unknown client",
            )
            raise ApiError(401, reason, {"www-authenticate": 'Bearer realm="fleet-ingest"'})
        return found

    def _ingest_token(self, request: Request) -> str | None:
        """The name of the ingest token the request carries, if it carries one."""
        value = request.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        digest = token_digest(token.strip()) if scheme.lower() == "bearer" else None
        found = None
        if digest is not None:
            for name, expected in self._ingest_tokens:
                if hmac.compare_digest(digest, expected):
                    found = name
        return found

    async def _registrant(self, request: Request) -> None:
        """Who may register through Spring Boot Admin's protocol: ``[spring_boot_admin]``."""
        sba = self.config.spring_boot_admin
        if sba.anonymous or (sba.ingest_tokens and self._ingest_token(request) is not None):
            return
        if request.headers.get("authorization") and self._registrants:
            caller = await self.actuator.guard.authenticate(request.scope)
            if caller.principal is not None:
                if any(p.fullmatch(caller.principal) for p in self._registrants):
                    return
                raise ApiError(403, f"{caller.principal!r} may not register instances")
        logger.warning(
            "fleet: Spring Boot Admin registration refused from %s",
            request.client.host if request.client else "unknown client",
        )
        challenges = ['Basic realm="fleet", charset="UTF-8"'] if self._registrants else []
        if sba.ingest_tokens:
            challenges.append('Bearer realm="fleet-ingest"')
        raise ApiError(
            401, "Registering needs credentials", {"www-authenticate": ", ".join(challenges)}
        )

    async def _json_body(self, request: Request, what: str) -> bytes:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise ApiError(415, f"{what} takes application/json")
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
        return b"".join(chunks)

    # -- Spring Boot Admin's registration protocol ------------------------------

    async def sba_register(self, request: Request) -> Response:
        """``InstancesController.register``: 201, ``{"id": ...}`` and a Location."""
        await self._registrant(request)
        body = await self._json_body(request, "Registration")
        try:
            registration = parse_registration(json.loads(body))
        except ValueError as exc:  # json.JSONDecodeError and RegistrationError
            message = str(exc) if isinstance(exc, RegistrationError) else "Malformed JSON"
            raise ApiError(400, message) from None
        now = self.clock()
        if await self.store.save_registration(registration, now):
            target = registration.target()
            # Shown at once (UNKNOWN until its first poll), with the facts it may show.
            update = InstanceUpdate(
                type="register",
                id=registration.id,
                status="UNKNOWN",
                service=target.service,
                url=registration.management_url or registration.health_url,
                facts=dict(target.facts),
            )
            await self.store.ingest([update], now=now)
            if self.poller is not None:
                self.poller.register(target)
            logger.info(
                "fleet: %s registered as %s (Spring Boot Admin protocol)",
                target.service,
                registration.id,
            )
        location = str(request.url.replace(query="")).rstrip("/") + f"/{registration.id}"
        response = _json({"id": registration.id}, 201)
        response.headers["location"] = location
        return response

    async def sba_deregister(self, request: Request) -> Response:
        """``InstancesController.unregister``: 204, or 404 for an unknown id."""
        await self._registrant(request)
        instance_id = request.path_params["instance_id"]
        if not await self.store.delete_registration(instance_id):
            raise ApiError(404, f"No registered instance {instance_id[:100]!r}")
        await self.store.ingest(
            [InstanceUpdate(type="deregister", id=instance_id)], now=self.clock()
        )
        if self.poller is not None:
            self.poller.deregister(instance_id)
        return Response(status_code=204, headers={"cache-control": "no-store"})

    # -- ingest ---------------------------------------------------------------

    async def ingest(self, request: Request) -> Response:
        self._ingester(request)
        body = await self._json_body(request, "Ingest")
        try:
            batch = IngestBatch.model_validate_json(body)
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

    # -- notifications ----------------------------------------------------------

    async def notifications(self, request: Request) -> Response:
        await self._reader(request)
        params = _params(request, {"state", "channel", "rule", "offset", "limit"})
        offset, limit = self._paging(params)
        states = params.get("state", [])
        for state in states:
            if state not in STATES:
                raise ApiError(400, f"Parameter 'state' must be one of {', '.join(STATES)}")
        page = await self.notifier.log(
            states=states,
            channels=params.get("channel", []),
            rules=params.get("rule", []),
            offset=offset,
            limit=limit,
        )
        return _json(page.json())

    async def mutes(self, request: Request) -> Response:
        if request.method == "GET":
            await self._reader(request)
            offset, limit = self._paging(_params(request, {"offset", "limit"}))
            return _json((await self.notifier.mutes(offset=offset, limit=limit)).json())
        author = await self._writer(request)
        _params(request, set())
        body = await request.body()
        if len(body) > 256 * 1024:
            raise ApiError(413, "Request body larger than 262144 bytes")
        try:
            spec = MuteConfig.model_validate_json(body)
            created = await self.notifier.add_mute(spec, author)
        except ValidationError as exc:
            raise ApiError(400, _describe(exc)) from None
        except ValueError as exc:
            raise ApiError(400, f"Invalid {exc}; nothing was stored") from None
        return _json(created, 201)

    async def mute(self, request: Request) -> Response:
        await self._writer(request)
        _params(request, set())
        mute_id = request.path_params["mute_id"]
        if not await self.notifier.remove_mute(mute_id):
            raise ApiError(404, f"No mute {mute_id[:100]!r} (configured mutes end with the file)")
        return Response(status_code=204, headers={"cache-control": "no-store"})

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
