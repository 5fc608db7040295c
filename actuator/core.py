"""The ``Actuator`` facade, and ``ActuatorMiddleware`` that mounts one in front of an app.

The facade builds each part before the parts that use it and gives each only
what it uses (see docs/architecture.md); users import both from ``actuator``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from actuator._background import BackgroundWork
from actuator._calls import GuardedCall
from actuator._handler import ActuatorHandler, not_found_app
from actuator._spring_endpoints import SpringEndpoints
from actuator.endpoints.base import Endpoint
from actuator.endpoints.env import EnvEndpoint
from actuator.endpoints.health import HealthEndpoint
from actuator.endpoints.info import InfoEndpoint
from actuator.endpoints.loggers import LoggersEndpoint
from actuator.endpoints.mappings import MappingsEndpoint
from actuator.endpoints.metrics import MetricsEndpoint
from actuator.endpoints.pause import FlipEndpoint, PauseEndpoint, ResumeEndpoint
from actuator.endpoints.ping import PingEndpoint
from actuator.endpoints.prometheus import PrometheusEndpoint
from actuator.endpoints.registry import EndpointRegistry
from actuator.endpoints.shutdown import ShutdownEndpoint
from actuator.endpoints.threaddump import ThreadDumpEndpoint
from actuator.frameworks import instrument
from actuator.health.availability import Availability
from actuator.health.checker import HealthChecker
from actuator.health.groups import HealthGroup
from actuator.health.indicator import Indicator
from actuator.health.indicators.disk import DiskSpaceIndicator
from actuator.health.indicators.event_loop import EventLoopLagIndicator
from actuator.health.indicators.ping import ping
from actuator.health.registry import Registration
from actuator.health.result import HealthComponent
from actuator.health.service import HealthService
from actuator.info.contributor import Contributor
from actuator.info.contributors import builtin_contributors
from actuator.info.contributors.app import resolve_app_info
from actuator.info.contributors.facts import FactsContributor
from actuator.info.contributors.features import FeaturesContributor
from actuator.info.registry import InfoContributors
from actuator.lifespan import ActuatorLifespan
from actuator.management.audit import APP
from actuator.management.environment import Environment, Sanitizer, Source
from actuator.management.log_levels import LogLevels
from actuator.management.pause import Callback, PauseControl
from actuator.management.profiles import SYSTEM_PROPERTIES, system_properties
from actuator.management.shutdown import ShutdownControl, ShutdownPlan
from actuator.metrics import ActuatorMetrics
from actuator.middleware import Middleware
from actuator.overload import ConcurrencyLimiter, build_limiter, protect
from actuator.overload.health import OverloadIndicator
from actuator.overload.metrics import OverloadCollector
from actuator.security.auth import Guard
from actuator.security.credentials import Authenticator, SecurityContext
from actuator.servers.management_server import ManagementApp, ManagementServer
from actuator.settings import ActuatorSettings, load_settings

if TYPE_CHECKING:
    from actuator.fleet.pusher import FleetPusher
    from actuator.fleet.sba_client import SpringBootAdminRegistrator

logger = logging.getLogger("actuator")

F = TypeVar("F", bound=Callable[..., Any])

Fact = str | int | float | bool


class Actuator(SpringEndpoints):
    """The operational surface of one ASGI application.

    ::

        actuator = Actuator(name="orders", version="1.4.2")

        @actuator.indicator("database", groups=["readiness"], timeout=0.5)
        async def database() -> Health:
            await pool.execute("SELECT 1")
            return Health.up(pool_size=10)

        app = FastAPI()
        app.add_middleware(ActuatorMiddleware, actuator=actuator)
        # any other ASGI app:  app = actuator.wrap(app)

    It composes the parts (health, info, endpoints, metrics, management,
    security, the lifespan) and is the one entry point to them: runtime
    management from code is ``pause()``, ``set_log_level()``, ``add_facts()``...

    Parameters:
        name: the application name shown in ``info`` (default: settings, then
            the ``info.app.distribution`` metadata).
        version: the application version (same fallbacks).
        description: a one-line description (same fallbacks).
        settings: an ``ActuatorSettings``, or a dict of settings; when omitted,
            read from ``ACTUATOR_*`` environment variables.
        registry: the prometheus-client ``CollectorRegistry`` for the actuator's
            metrics (default: a new one of its own; pass ``prometheus_client.REGISTRY``
            to serve the global one too). See ``actuator.metrics``.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        version: str | None = None,
        description: str | None = None,
        settings: ActuatorSettings | dict[str, Any] | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.settings = settings = load_settings(settings)
        self._name, self._version, self._description = name, version, description
        self._app_info: dict[str, Any] | None = None
        self.availability = Availability()
        self.checker = HealthChecker(max_threads=settings.health.max_threads)
        server = settings.management_server
        self._health = HealthService(
            settings.health, self.checker, loop_in_liveness=server.enabled and server.thread
        )
        self._info = InfoContributors(settings.info.timeout, self._executor)
        self._endpoints = EndpointRegistry(settings.exposure)
        self._authenticators: list[Authenticator] = []
        self.guard = Guard(settings.security, self._authenticators)
        self._handler = ActuatorHandler(self._endpoints, self.guard, settings)
        self.management_server: ManagementServer | None = None
        if settings.management_server.enabled:
            self.management_server = ManagementServer(
                ManagementApp(self._handler, settings.base_path, self._endpoints),
                server,
                thread=server.thread,
            )
        self.overload: ConcurrencyLimiter | None = None
        """The limiter of the app's requests in flight, when ``overload.enabled`` is set."""
        if settings.overload.enabled:
            self.overload = build_limiter(settings.overload)
        self.metrics = ActuatorMetrics(
            settings,
            self._health,
            self._resolve_app_info,
            registry,
            collectors=[OverloadCollector(self.overload)] if self.overload is not None else [],
        )
        self.host_app: ASGIApp | None = None
        """The app the actuator middleware wraps (what ``/mappings`` describes)."""
        self.pause_control = PauseControl(self.availability, settings.pause)
        self.shutdown_control = ShutdownControl(self.availability, settings)
        self.log_levels = LogLevels(settings.loggers.groups)
        self.environment = Environment(settings)
        self.environment.add_source(SYSTEM_PROPERTIES, system_properties)
        self._facts: dict[str, Fact] = {}
        self.add_facts(settings.info.facts)
        self._background = BackgroundWork(
            self._health, self.checker, self._endpoints, self.availability, settings.drain_period
        )
        self._lifespan = ActuatorLifespan(
            self._background, self.availability, self.management_server
        )
        self._standalone: ActuatorMiddleware | None = None
        self._add_builtins()
        self.fleet_pusher: FleetPusher | None = None
        if settings.fleet.enabled:
            self._add_fleet_pusher()
        self.spring_boot_admin: SpringBootAdminRegistrator | None = None
        if settings.spring_boot_admin.url:
            self._add_spring_boot_admin()

    def _add_builtins(self) -> None:
        """The built-in indicators, contributors and endpoints, once every part exists."""
        settings = self.settings
        availability = self.availability
        self.add_indicator("livenessState", availability.liveness_health, blocking=False)
        self.add_indicator("readinessState", availability.readiness_health, blocking=False)
        self.add_indicator("startupState", availability.startup_health, blocking=False)
        health = settings.health
        if health.ping.enabled:
            self.add_indicator("ping", ping)
        if health.disk_space.enabled:
            self.add_indicator(
                "diskSpace",
                DiskSpaceIndicator(health.disk_space.path, threshold=health.disk_space.threshold),
            )
        if health.event_loop.enabled:
            loop = health.event_loop
            self.add_indicator(
                "eventLoop",
                EventLoopLagIndicator(
                    threshold=loop.threshold,
                    interval=loop.interval,
                    recent=loop.recent,
                    watchdog=loop.watchdog,
                ),
            )
        if self.overload is not None:
            overload = settings.overload
            self.add_indicator(
                "overload",
                OverloadIndicator(
                    self.overload,
                    mode=overload.mode,
                    out_of_service_after=overload.out_of_service_after,
                ),
                groups=["readiness"] if overload.readiness else [],
                blocking=False,
            )
        for name, contributor in builtin_contributors(
            settings.info, self._resolve_app_info
        ).items():
            if name not in settings.info.exclude:
                self.add_contributor(name, contributor)
        self.add_endpoint(HealthEndpoint(self._health, self._resolve_app_info))
        self.add_endpoint(InfoEndpoint(self._info))
        self.add_endpoint(PrometheusEndpoint(self.metrics, self._executor))
        self.add_endpoint(MetricsEndpoint(self.metrics, self._executor, settings.metrics.naming))
        self._background.watch(self.pause_control)
        self._background.watch(self.shutdown_control)
        self.add_endpoint(PingEndpoint())
        self.add_endpoint(LoggersEndpoint(self.log_levels))
        for pause in (PauseEndpoint, ResumeEndpoint, FlipEndpoint):
            self.add_endpoint(pause(self.pause_control))
        if settings.shutdown.enabled:
            self.add_endpoint(ShutdownEndpoint(self.shutdown_control))
        self.add_endpoint(EnvEndpoint(self.environment))
        self.add_endpoint(ThreadDumpEndpoint())
        self.add_endpoint(
            MappingsEndpoint(
                lambda: self.host_app, self._endpoints, settings.base_path, self._resolve_app_info
            )
        )
        contributors: dict[str, Contributor] = {
            "features": FeaturesContributor(
                settings.access, self._endpoints.is_exposed, overload=self.overload is not None
            ),
            "facts": FactsContributor(lambda: self._facts),
        }
        for name, contributor in contributors.items():
            if name not in settings.info.exclude:
                self.add_contributor(name, contributor)
        self._init_spring_endpoints(
            settings,
            self.environment,
            self.checker,
            checks=lambda: [leaf for r in self.registrations for leaf in r.leaves()],
            application=self._resolve_app_info,
            add_endpoint=self.add_endpoint,
            remember_hooks=self._background.watch,
        )
        self._lifespan.on_startup_message = self.startup_timeline.lifespan_started

    # -- health ---------------------------------------------------------------

    def indicator(
        self,
        name: str,
        *,
        groups: Iterable[str] = (),
        tags: Iterable[str] = (),
        timeout: float | None = None,
        ttl: float | None = None,
        interval: float | None = None,
        blocking: bool | None = None,
    ) -> Callable[[F], F]:
        """Register the decorated function as an indicator. See ``add_indicator``."""

        def decorate(fn: F) -> F:
            self.add_indicator(
                name,
                fn,
                groups=groups,
                tags=tags,
                timeout=timeout,
                ttl=ttl,
                interval=interval,
                blocking=blocking,
            )
            return fn

        return decorate

    def add_indicator(
        self,
        name: str,
        indicator: Indicator,
        *,
        groups: Iterable[str] = (),
        tags: Iterable[str] = (),
        timeout: float | None = None,
        ttl: float | None = None,
        interval: float | None = None,
        blocking: bool | None = None,
    ) -> None:
        """Register a health indicator.

        Parameters:
            name: the component name in health answers (``/health/{name}``).
            indicator: an async or sync callable, an object with ``health()``,
                or a mapping of names to indicators (a composite, nested at will).
            groups: groups the indicator joins (``readiness``, ``liveness``,
                ``startup`` or your own).
            tags: tags that group ``include``/``exclude`` patterns can select (``tag:db``).
            timeout: seconds before the check counts as DOWN (default ``health.timeout``).
            ttl: seconds a result is reused before checking again (default: never reused).
            interval: refresh in the background every ``interval`` seconds, so
                probes read the latest result at once.
            blocking: sync indicators run in the actuator's thread pool; pass
                ``False`` for a cheap sync function to call it on the event loop.
        """
        registration = self._health.add(
            name,
            indicator,
            groups=groups,
            tags=tags,
            timeout=timeout,
            ttl=ttl,
            interval=interval,
            blocking=blocking,
        )
        self._background.watch(indicator, registration.leaves())

    def remove_indicator(self, name: str) -> None:
        """Unregister an indicator: it leaves every group, and its background refresh stops.

        Raises ``KeyError`` when no indicator has that name.
        """
        registration = self._health.remove(name)
        self._background.unwatch(registration.source, registration.leaves())

    def add_group(
        self,
        name: str,
        *,
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        show_details: str | None = None,
        show_components: str | None = None,
        status_order: Iterable[str] | None = None,
        http_mapping: Mapping[str, int] | None = None,
    ) -> None:
        """Declare a health group (served at ``/health/{name}``); see ``GroupSettings``."""
        self._health.add_group(
            name,
            include=list(include),
            exclude=list(exclude),
            show_details=show_details,
            show_components=show_components,
            status_order=None if status_order is None else list(status_order),
            http_mapping=None if http_mapping is None else dict(http_mapping),
        )

    @property
    def registrations(self) -> list[Registration]:
        return self._health.registrations

    @property
    def health_groups(self) -> Mapping[str, HealthGroup]:
        return self._health.groups

    @property
    def root_health_group(self) -> HealthGroup:
        return self._health.root_group

    async def health(self, *path: str) -> HealthComponent:
        """The aggregated health of everything, of a group, or of a component path.

        For use from code (a CLI, a test); ignores show-details policies.
        """
        return await self._health.health(*path)

    def _add_fleet_pusher(self) -> None:
        from actuator.fleet.pusher import FleetPusher, registration_from_info

        async def status() -> tuple[str, list[str]]:
            health = await self.health()
            components = getattr(health, "components", {})
            return health.status.code, sorted(
                name for name, c in components.items() if c.status.code != "UP"
            )

        async def registration() -> dict[str, Any]:
            return registration_from_info(await self.info())

        pusher = FleetPusher(self.settings.fleet, status=status, registration=registration)
        self.availability.on_change(lambda _: pusher.poke())
        self._background.watch(pusher)  # started and stopped with the app
        self.fleet_pusher = pusher

    def _add_spring_boot_admin(self) -> None:
        from actuator.fleet.pusher import registration_from_info
        from actuator.fleet.sba_client import SpringBootAdminRegistrator

        async def name() -> str:
            service: str = registration_from_info(await self.info())["service"]
            return service

        def management_port() -> int | None:
            server = self.management_server
            return None if server is None else server.port

        registrator = SpringBootAdminRegistrator(
            self.settings.spring_boot_admin,
            base_path=self.settings.base_path,
            name=name,
            management_port=management_port,
        )
        self._background.watch(registrator)  # started and stopped with the app
        self.spring_boot_admin = registrator

    # -- info -----------------------------------------------------------------

    def add_contributor(self, name: str, contributor: Contributor) -> None:
        """Add a section to ``/actuator/info``: a callable or an object with ``contribute()``,
        sync or async, returning a JSON-able mapping."""
        self._info.add(name, contributor)
        self._background.watch(contributor)

    def remove_contributor(self, name: str) -> None:
        """Remove an ``info`` section. Raises ``KeyError`` when no contributor has that name."""
        self._background.unwatch(self._info.remove(name))

    @property
    def contributors(self) -> Mapping[str, GuardedCall[object]]:
        return self._info.calls

    @property
    def app_info(self) -> Mapping[str, Any]:
        """``name``, ``version`` and ``description``: from code, settings, then package metadata."""
        return self._resolve_app_info()

    def _resolve_app_info(self) -> Mapping[str, Any]:
        if self._app_info is None:
            self._app_info = resolve_app_info(
                self.settings.info.app, self._name, self._version, self._description
            )
        return self._app_info

    async def info(self) -> dict[str, Any]:
        """Everything ``/actuator/info`` would answer."""
        return await self._info.gather()

    # -- endpoints ------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Register an endpoint, served at ``{base_path}/{endpoint.name}`` when exposed."""
        self._endpoints.add(endpoint)

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        return self._endpoints.all

    def exposed_endpoint(self, name: str) -> Endpoint | None:
        return self._endpoints.exposed(name)

    def exposed_endpoints(self) -> list[Endpoint]:
        return self._endpoints.all_exposed()

    # -- security -------------------------------------------------------------

    def add_authenticator(self, authenticator: Authenticator) -> Authenticator:
        """Identify callers your own way (a gateway header, a JWT, a session cookie).

        ``authenticator`` gets the request (a Starlette ``Request`` without a
        body, so a function written as a FastAPI dependency on ``Request``
        fits) and returns an identity, a ``SecurityContext`` or ``None``;
        hooks run in order before the built-in schemes. Usable as a decorator::

            @actuator.add_authenticator
            def gateway_user(request: Request) -> str | None:
                return request.headers.get("x-authenticated-user")
        """
        if not callable(authenticator):
            raise TypeError(f"authenticator must be callable, got {type(authenticator).__name__}")
        self._authenticators.append(authenticator)
        return authenticator

    async def authenticate(self, scope: Scope, *, verify_passwords: bool = True) -> SecurityContext:
        """The caller of a request, from hooks, credentials or a TLS client certificate.

        Raises ``actuator.security.auth.AuthError`` (401) for invalid credentials, 429
        after too many failures from the client's address, 503 when too many
        password checks run at once. ``verify_passwords=False``: see ``Guard``.
        """
        return await self.guard.authenticate(scope, verify_passwords=verify_passwords)

    # -- lifecycle ------------------------------------------------------------

    async def startup(self) -> None:
        """Start the actuator's background work: refreshers, hooks, the drain. Idempotent.

        This starts no server: the middleware calls it when the app has started
        (ASGI lifespan startup, or the first request when the server runs
        without lifespan).
        """
        await self._background.start()

    async def shutdown(self) -> None:
        """Stop the actuator's background work. Idempotent.

        This stops no server (``request_shutdown()`` does that).
        """
        await self._background.stop()

    @property
    def started(self) -> bool:
        return self._background.running

    def wrap(self, app: Callable[..., Awaitable[None]]) -> ActuatorMiddleware:
        """``app`` with the actuator mounted in front of it.

        Any ASGI callable: frameworks that type their scope more narrowly than
        Starlette (Litestar, Quart) are accepted as they are.
        """
        return ActuatorMiddleware(app, actuator=self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the actuator alone, as its own ASGI app (a sidecar or a management port)."""
        standalone = self._standalone
        if standalone is None:
            standalone = self._standalone = ActuatorMiddleware(not_found_app, actuator=self)
        await standalone(scope, receive, send)

    def _executor(self) -> Any:
        return self.checker.executor

    def _protect(self, app: ASGIApp) -> ASGIApp:
        """``app`` behind the load-shedding layer when ``overload.enabled`` is set.

        The layer sits behind the actuator's routing: the actuator's own
        requests (probes included) never reach the limiter.
        """
        if self.overload is None or app is not_found_app:
            return app
        return protect(app, self.overload, self.settings.overload)

    def _mount(self, app: ASGIApp) -> dict[str, Any]:
        """The parts the middleware in front of ``app`` uses."""
        if app is not not_found_app:
            self.host_app = app  # what /mappings describes
            instrument(app)  # a framework that keeps the route template to itself shares it
        return {
            "handler": self._handler,
            "endpoints": self._endpoints,
            "base_path": self.settings.base_path,
            "serves": self.management_server is None,
            "pause": self.pause_control,
            "http_metrics": self.metrics.http,
            "lifespan": self._lifespan,
        }

    # -- pause ------------------------------------------------------------------

    def pause(self, reason: str = "") -> bool:
        """Pause the app: readiness OUT_OF_SERVICE, app requests 503 (see ``pause`` settings).

        Thread-safe. ``False`` if it was already paused.
        """
        return self.pause_control.pause(reason)

    def resume(self, reason: str = "") -> bool:
        """Undo a pause. ``False`` if it was not paused."""
        return self.pause_control.resume(reason)

    def flip(self, reason: str = "") -> bool:
        """Pause if running, resume if paused; the new ``paused`` value."""
        return self.pause_control.flip(reason)

    @property
    def paused(self) -> bool:
        return self.pause_control.paused

    async def wait_resumed(self) -> None:
        """Return once the app is not paused: ``await actuator.wait_resumed()`` in a worker loop."""
        await self.pause_control.wait_resumed()

    def on_pause(self, callback: Callback) -> Callback:
        """Call ``callback()`` (sync or async) after each pause. Usable as a decorator.

        Callbacks run on the event loop one at a time, in the order of the transitions.
        """
        return self.pause_control.on_pause(callback)

    def on_resume(self, callback: Callback) -> Callback:
        """Call ``callback()`` (sync or async) after each resume. Usable as a decorator."""
        return self.pause_control.on_resume(callback)

    # -- loggers ----------------------------------------------------------------

    def set_log_level(self, name: str, level: str | int | None) -> None:
        """Set a logger's (or a logger group's) level: a Spring name (``TRACE`` ... ``OFF``),
        a coarse one (``debug``, ``info``, ``warn``, ``critical``) or a Python level;
        ``None`` clears it. ``ROOT`` is the root logger. Raises ``ValueError`` for an
        unknown level."""
        self.log_levels.set(name, level, by=APP)

    def add_logger_group(self, name: str, members: Iterable[str]) -> None:
        """Create a logger group for ``/actuator/loggers/{name}``, or add members to it."""
        self.log_levels.add_group(name, members)

    # -- env ----------------------------------------------------------------------

    def add_env_source(self, name: str, source: Source) -> None:
        """Show a mapping (or a callable returning one, called per request) in ``/env``."""
        self.environment.add_source(name, source)

    def add_sanitizer(self, sanitizer: Sanitizer) -> None:
        """Add ``sanitizer(source, key, value) -> value`` for ``/env``, after the built-in masks."""
        self.environment.add_sanitizer(sanitizer)

    # -- facts --------------------------------------------------------------------

    def add_facts(self, facts: Mapping[str, Any] | None = None, /, **more: Any) -> None:
        """Add key/values to the ``facts`` info section: ``add_facts(team="payments")``.

        Values are strings, numbers or booleans; a key given again is replaced.
        """
        merged = {**(facts or {}), **more}
        for key, value in merged.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"fact names must be non-empty strings, got {key!r}")
            if not isinstance(value, (str, int, float, bool)) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise TypeError(
                    f"fact {key!r} must be a string, number or boolean, got {type(value).__name__}"
                )
        self._facts.update(merged)

    @property
    def facts(self) -> Mapping[str, Fact]:
        return MappingProxyType(self._facts)

    # -- shutdown -----------------------------------------------------------------

    def request_shutdown(self, reason: str = "") -> ShutdownPlan:
        """Stop the server gracefully, as ``POST /actuator/shutdown`` would (whether or not the
        endpoint is enabled): readiness OUT_OF_SERVICE now, the server asked to stop after
        the drain period and a random jitter. Call it on the event loop."""
        return self.shutdown_control.request(reason)


class ActuatorMiddleware(Middleware):
    """Pure ASGI middleware that mounts an ``Actuator`` in front of any ASGI app.

    ::

        app = FastAPI()
        app.add_middleware(ActuatorMiddleware, actuator=actuator)

        app = ActuatorMiddleware(app, actuator=actuator)   # any ASGI app

    HTTP requests under the base path are answered by the actuator and never
    reach the app; everything else (other paths, websockets) passes through
    untouched, HTTP requests timed on the way (``metrics`` settings).
    Lifespan messages pass through too, and drive the actuator's lifecycle:
    readiness is INIT until ``lifespan.startup.complete``.

    With a management server (``management_server.enabled``), the base path
    is served on the management port only: here it passes through to the app.

    Parameters:
        app: the ASGI app to wrap.
        actuator: the actuator to serve; a default ``Actuator()`` (settings
            from the environment) when omitted.
    """

    def __init__(self, app: ASGIApp, *, actuator: Actuator | None = None) -> None:
        self.actuator = actuator if actuator is not None else Actuator()
        parts = self.actuator._mount(app)
        if app is not not_found_app:
            # The exchanges recorded include the 429s the load-shedding layer answers.
            app = self.actuator.record_http_exchanges(self.actuator._protect(app))
        super().__init__(app, **parts)
