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
``GET  /fleet/api/instances/{id}/actuator/{endpoint}``  the instance's own answer (a proxy)
``POST /fleet/api/actions``           act on many instances, staged (full role)
``GET  /fleet/api/actions``           the action journal, newest first
``GET  /fleet/api/actions/{id}``      one action: state, stages, progress, results
``GET  /fleet/api/notifications``     the delivery log: filters, pages
``GET  /fleet/api/mutes``             mutes that have not ended
``POST /fleet/api/mutes``             a new mute (full role)
``DELETE /fleet/api/mutes/{id}``      end a mute (full role)
``GET  /actuator/health``             the console's own health (its database included)
``POST /instances``                   Spring Boot Admin's client registration (when enabled)
``DELETE /instances/{id}``            its deregistration
``GET  /fleet/``                      the web dashboard (``actuator.fleet.web``)

Reading needs the ``read`` role; ingest an ingest token; registering through Spring
Boot Admin's protocol what ``[spring_boot_admin]`` allows (see ``sba_server``). The
proxy calls the instance with the console's credentials (``[reach]``), for a short
list of read endpoints (``PROXIED``). The console's clock
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
import secrets
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

from actuator._calls import cancel_and_wait
from actuator._http import error_body, json_bytes
from actuator.core import Actuator
from actuator.fleet.actions import (
    STATES as ACTION_STATES,
)
from actuator.fleet.actions import (
    ActionRequest,
    ActionRunner,
    Target,
    plan,
    stage_names,
)
from actuator.fleet.config import ConsoleConfig
from actuator.fleet.jobs import Jobs, JobsLock, ProcessJobsLock, jobs_lock_for
from actuator.fleet.journal import Journal
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
from actuator.fleet.reach import Reach, ReachError
from actuator.fleet.sba_server import RegistrationError, parse_registration
from actuator.fleet.store import FleetStore, SqlStore, open_store
from actuator.fleet.web import Dashboard
from actuator.fleet.web.session import proof_of
from actuator.health.result import Health
from actuator.sanitizer import loggable
from actuator.security.auth import AuthError
from actuator.security.credentials import SecurityContext, token_digest

logger = logging.getLogger("actuator.fleet")

API = "/fleet/api"
PROXIED = frozenset({"health", "info", "ping", "loggers", "pause", "shutdown", "metrics"})
"""Endpoints the read proxy passes on (with their sub-paths: ``health/db``, ``loggers/x``);
reads that show state an operator acts on, none that show the environment or secrets."""

_STOP_TIMEOUT = 10.0
"""Seconds each background task (jobs, pull, NATS) is given to stop with the console."""


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
        reach: how to call instances (default: one for ``config.reach``).
        environ: where notification channels read their secrets (default ``os.environ``).
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
        reach: Reach | None = None,
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
        self.reach = reach or Reach(self.config.reach, client_for=self._pull_client)
        self.journal = Journal(self.store) if isinstance(self.store, SqlStore) else None
        self.runner = (
            ActionRunner(
                self.journal,
                self.reach,
                poll_interval=self.config.actions.poll_interval,
                heartbeat=self.config.actions.heartbeat,
                clock=clock,
            )
            if self.journal
            else None
        )
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
            Route(f"{API}/actions", self.act, methods=["POST"]),
            Route(f"{API}/actions", self.actions, methods=["GET"]),
            Route(f"{API}/actions/{{action_id}}", self.action, methods=["GET"]),
            Route(
                f"{API}/instances/{{instance_id}}/actuator/{{endpoint:path}}",
                self.proxy,
                methods=["GET"],
            ),
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
                ReachError: self._error,
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
            if self.runner is not None:
                await self.runner.stop_all("interrupted: the console stopped while it ran")
            if self.nats is not None:
                self.nats.stop()  # before the cancel, which nats-py may swallow
            for task in tasks:
                if not await cancel_and_wait(task, _STOP_TIMEOUT):
                    logger.warning("fleet console: %s did not stop; left behind", task.get_name())
            if self._http is not None:
                await self._http.aclose()
            await self.store.close()
            await self.reach.aclose()
            self._opened = False

    def _pull_client(self, url: str) -> httpx.AsyncClient | None:
        return self.poller.client_for(url) if self.poller else None

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
        if self.journal is not None:
            try:
                stale = await self.journal.interrupt_stale(
                    self.clock(), self.config.actions.stale_after
                )
            except Exception:
                logger.exception("fleet sweep: checking the action journal failed")
            else:
                for action_id in stale:
                    logger.warning("fleet action %s interrupted: its console stopped", action_id)
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
        elif isinstance(exc, ReachError):
            status, message = exc.status, exc.message
        elif isinstance(exc, AuthError):
            status, message, headers = exc.status, exc.message, dict(exc.headers)
            if exc.challenges:
                headers["www-authenticate"] = ", ".join(exc.challenges)
        elif isinstance(exc, HTTPException):
            status, headers = exc.status_code, dict(exc.headers or {})
            message = {404: "No such resource", 405: "Method not allowed"}.get(
                status, str(exc.detail)
            )
        else:  # pragma: no cover - only the types above are registered
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

    async def _reader(self, request: Request) -> SecurityContext:
        guard = self.actuator.guard
        caller = await guard.authenticate(request.scope)
        guard.authorize(caller, "fleet", "read", request.scope)
        return caller

    async def _writer(self, request: Request) -> str | None:
        """The caller's name, once it proved it has the full role."""
        guard = self.actuator.guard
        caller = await guard.authenticate(request.scope)
        guard.authorize(caller, "fleet", "write", request.scope)
        return caller.principal

    def _identity(self, request: Request, caller: SecurityContext) -> str:
        """How the caller proved who it is: ``bearer token``, ``basic``, ``certificate``,
        ``dashboard session: bearer token``, ... (never the credential itself)."""
        # The dashboard's session hook runs before the header is read: when a
        # session speaks for the request, the principal is the session's.
        found = self.dashboard.identity(request) or proof_of(request.scope)
        if found is not None:
            return found
        return "anonymous" if caller.principal is None else "authenticator"

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

    async def _json_body(self, request: Request, what: str, limit: int | None = None) -> bytes:
        """The body, JSON media type and at most ``limit`` bytes (default ``max_body``)."""
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise ApiError(415, f"{what} takes application/json")
        limit = self.config.max_body if limit is None else limit
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

    async def proxy(self, request: Request) -> Response:
        """The instance's own answer to a read (``PROXIED``), status and JSON body as they are."""
        caller = await self._reader(request)
        _params(request, set())
        instance_id = request.path_params["instance_id"]
        endpoint = request.path_params["endpoint"].strip("/")
        name = endpoint.split("/", 1)[0]
        if name not in PROXIED:
            allowed = ", ".join(sorted(PROXIED))
            raise ApiError(404, f"Endpoint {name[:50]!r} is not proxied (proxied: {allowed})")
        found = await self.store.instance(instance_id)
        if found is None:
            raise ApiError(404, f"No instance {instance_id[:200]!r}")
        try:
            reply = await self.reach.call(instance_id, found["url"], "GET", endpoint)
        except ReachError as exc:
            logger.warning(
                "fleet proxy: GET %s on %s for %s failed: %s",
                loggable(name),
                loggable(instance_id),
                loggable(caller.principal),
                exc.message,
            )
            raise
        return _json(reply.body, reply.status)

    # -- actions --------------------------------------------------------------

    async def act(self, request: Request) -> Response:
        """Start an action (or, with ``dry_run``, answer its targets and stages)."""
        guard = self.actuator.guard
        caller = await guard.authenticate(request.scope)
        guard.authorize(caller, "fleet", "write", request.scope)
        if self.runner is None or self.journal is None:  # pragma: no cover - custom stores
            raise ApiError(501, "Actions need the console's SQL store")
        body = await self._json_body(request, "An action", 65_536)
        try:
            action = ActionRequest.model_validate_json(body)
        except ValidationError as exc:
            status = 400 if exc.errors()[0]["type"] == "json_invalid" else 422
            raise ApiError(status, _describe(exc, "nothing was started")) from None
        if not action.has_selection():
            raise ApiError(
                422,
                "Invalid selection: name at least one of service, group, status, facts, "
                "instances; nothing was started",
            )
        limit = self.config.actions.max_targets
        page = await self.store.instances(
            InstanceQuery(
                statuses=action.status,
                services=action.service,
                group=action.group,
                facts=action.facts,
                ids=action.instances,
                limit=limit + 1,
            )
        )
        if page.total == 0:
            raise ApiError(422, "Invalid selection: it matches no instance; nothing was started")
        if page.total > limit:
            raise ApiError(
                422,
                f"Invalid selection: it matches {page.total} instances, more than "
                f"actions.max_targets ({limit}); narrow it. Nothing was started",
            )
        targets = [Target(item["id"], item["url"]) for item in page.items]
        stages = plan([t.id for t in targets], action.canary, action.batch)
        names = stage_names(stages, action.canary)
        described = [
            {"name": name, "size": len(stage)} for name, stage in zip(names, stages, strict=True)
        ]
        if action.dry_run:
            by_id = {item["id"]: item for item in page.items}
            return _json(
                {
                    "dryRun": True,
                    "action": action.action,
                    "targets": len(targets),
                    "failureLimit": action.failure_limit(len(targets)),
                    "stages": [
                        {**d, "instances": stage}
                        for d, stage in zip(described, stages, strict=True)
                    ],
                    "instances": [
                        {
                            key: by_id[t.id][key]
                            for key in ("id", "service", "group", "status", "version", "url")
                        }
                        for t in targets
                    ],
                }
            )
        now = self.clock()
        action_id = f"{int(now * 1000):x}-{secrets.token_hex(4)}"
        position = {iid: n for n, stage in enumerate(stages) for iid in stage}
        await self.journal.create(
            action_id,
            now=now,
            action=action.action,
            principal=caller.principal,
            identity=self._identity(request, caller),
            client=request.client.host if request.client else None,
            request=action.model_dump(mode="json", exclude={"dry_run"}),
            stages=described,
            targets=[(t.id, position[t.id]) for t in targets],
        )
        self.runner.start(action_id, action, targets, stages)
        logger.warning(
            "fleet action %s: %s on %d instances by %s",
            action_id,
            loggable(action.what()),
            len(targets),
            loggable(caller.principal),
        )
        answer = _json(
            {
                "id": action_id,
                "state": "running",
                "action": action.action,
                "targets": len(targets),
                "stages": described,
                "href": f"{API}/actions/{action_id}",
            },
            202,
        )
        answer.headers["location"] = f"{API}/actions/{action_id}"
        return answer

    async def actions(self, request: Request) -> Response:
        await self._reader(request)
        params = _params(request, {"state", "offset", "limit"})
        states = params.get("state", [])
        for state in states:
            if state not in ACTION_STATES:
                raise ApiError(400, f"Parameter 'state' must be one of {', '.join(ACTION_STATES)}")
        offset, limit = self._paging(params)
        if self.journal is None:  # pragma: no cover - custom stores
            raise ApiError(501, "Actions need the console's SQL store")
        return _json((await self.journal.page(offset, limit, states)).json())

    async def action(self, request: Request) -> Response:
        await self._reader(request)
        params = _params(request, {"offset", "limit"})
        offset, limit = self._paging(params)
        action_id = request.path_params["action_id"]
        found = await self.journal.action(action_id, offset, limit) if self.journal else None
        if found is None:
            raise ApiError(404, f"No action {action_id[:100]!r}")
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


def _describe(exc: ValidationError, outcome: str = "nothing was stored") -> str:
    errors = exc.errors()
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    if first["type"] == "json_invalid":
        return f"Malformed JSON: {first['msg']}"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"Invalid {where}: {first['msg']}{more}; {outcome}"
