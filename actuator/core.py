"""The ``Actuator``: the registry of endpoints, indicators and contributors of one app."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp, Receive, Scope, Send

from actuator._calls import GuardedCall
from actuator._management import Management
from actuator.endpoints.base import Endpoint, check_endpoint_name
from actuator.endpoints.health import HealthEndpoint
from actuator.endpoints.info import InfoEndpoint
from actuator.endpoints.metrics import MetricsEndpoint
from actuator.endpoints.prometheus import PrometheusEndpoint
from actuator.health.aggregator import StatusAggregator
from actuator.health.availability import Availability
from actuator.health.checker import HealthChecker
from actuator.health.groups import LIVENESS, READINESS, STARTUP, HealthGroup
from actuator.health.http_mapper import HttpCodeStatusMapper
from actuator.health.indicator import Indicator
from actuator.health.registry import Registration, build_node, check_indicator_name
from actuator.health.result import HealthComponent
from actuator.info.contributor import Contributor, contributor_callable
from actuator.metrics import ActuatorMetrics
from actuator.security.auth import Guard
from actuator.security.credentials import Authenticator, SecurityContext
from actuator.settings import ActuatorSettings, GroupSettings, load_settings

if TYPE_CHECKING:
    from actuator.management.drain import SignalDrain
    from actuator.middleware import ActuatorMiddleware
    from actuator.servers.management_server import ManagementServer

logger = logging.getLogger("actuator")

F = TypeVar("F", bound=Callable[..., Any])

_BUILTIN_GROUPS: Mapping[str, tuple[str, ...]] = {
    LIVENESS: ("livenessState",),
    READINESS: ("readinessState",),
    STARTUP: ("startupState",),
}


class Actuator(Management):
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

    Runtime management from code (``pause()``, ``set_log_level()``...) comes
    from ``actuator.management.Management``.

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
        self.settings = load_settings(settings)
        self.availability = Availability()
        self.checker = HealthChecker(max_threads=self.settings.health.max_threads)
        self._name, self._version, self._description = name, version, description
        self._registrations: dict[str, Registration] = {}
        self._contributors: dict[str, GuardedCall[object]] = {}
        self._contributor_sources: dict[str, object] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._hooks: list[object] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._lifespan_seen = False
        self._app_info: dict[str, Any] | None = None
        self._drain: SignalDrain | None = None
        self._standalone: ActuatorMiddleware | None = None
        self._authenticators: list[Authenticator] = []
        self.guard = Guard(self.settings.security, self._authenticators)
        self.management_server: ManagementServer | None = None
        if self.settings.management_server.enabled:
            from actuator.servers.management_server import ManagementServer

            self.management_server = ManagementServer(self, self.settings.management_server)
        self._build_groups()
        self._register_builtins()
        self.metrics = ActuatorMetrics(self, registry)
        self.add_endpoint(HealthEndpoint(self))
        self.add_endpoint(InfoEndpoint(self))
        self.add_endpoint(PrometheusEndpoint(self))
        self.add_endpoint(MetricsEndpoint(self))
        self._init_management()

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
            self.add_indicator(name, fn, groups=groups, tags=tags, timeout=timeout, ttl=ttl,
                               interval=interval, blocking=blocking)
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
        check_indicator_name(name)
        if name in self._registrations:
            raise ValueError(f"an indicator named {name!r} is already registered")
        if name in self.health_groups:
            raise ValueError(f"indicator name {name!r} is taken by a health group")
        timeout = self.settings.health.timeout if timeout is None else timeout
        for label, value in (("timeout", timeout), ("ttl", ttl), ("interval", interval)):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{label} for indicator {name!r} must be a number of seconds, "
                                f"got {value!r}")
            if not value > 0:
                raise ValueError(f"{label} for indicator {name!r} must be > 0, got {value!r}")
        groups = frozenset(_names(groups, "groups"))
        unknown = groups - set(self.health_groups)
        if unknown:
            raise ValueError(
                f"indicator {name!r} names unknown group(s) {sorted(unknown)}; "
                f"declare them with add_group() or health.groups"
            )
        node = build_node(name, indicator, timeout=timeout, ttl=ttl, interval=interval,
                          blocking=blocking)
        self._registrations[name] = Registration(
            name=name, node=node, groups=groups, tags=frozenset(_names(tags, "tags")),
            source=indicator,
        )
        self._remember_hooks(indicator)
        if self._started:
            self.checker.start_refreshing(self._registrations[name].leaves())

    def remove_indicator(self, name: str) -> None:
        """Unregister an indicator: it leaves every group, and its background refresh stops.

        Raises ``KeyError`` when no indicator has that name.
        """
        registration = self._registrations.pop(name, None)
        if registration is None:
            raise KeyError(f"no indicator named {name!r}")
        if self._started:
            self.checker.stop_refreshing(registration.leaves())
        self._forget_hooks(registration.source)

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
        check_indicator_name(name)
        if name in self.health_groups:
            raise ValueError(f"a health group named {name!r} already exists")
        if name in self._registrations:
            raise ValueError(f"group name {name!r} is taken by an indicator")
        config = GroupSettings.model_validate({
            "include": list(include), "exclude": list(exclude),
            "show_details": show_details, "show_components": show_components,
            "status_order": None if status_order is None else list(status_order),
            "http_mapping": None if http_mapping is None else dict(http_mapping),
        })
        self.health_groups[name] = self._make_group(name, config, ())

    @property
    def registrations(self) -> list[Registration]:
        return list(self._registrations.values())

    async def health(self, *path: str) -> HealthComponent:
        """The aggregated health of everything, of a group, or of a component path.

        For use from code (a CLI, a test); ignores show-details policies.
        """
        from actuator.endpoints.health import _aggregate, _select
        from actuator.health.registry import iter_leaves

        group = self.health_groups.get(path[0]) if path else None
        rest = path[1:] if group is not None else path
        group = group or self.root_health_group
        members = {r.name: r.node for r in group.members(self.registrations)}
        node = _select(members, rest) if rest else members
        if node is None:
            raise KeyError(f"no health group or component at {'/'.join(path)!r}")
        results = await self.checker.collect(iter_leaves(node), self.settings.health.deadline)
        return _aggregate(node, results, group)

    def _build_groups(self) -> None:
        health = self.settings.health
        self.root_health_group = HealthGroup(
            "",
            include=("*",),
            aggregator=StatusAggregator(health.status_order),
            http_mapper=HttpCodeStatusMapper(health.http_mapping),
            show_details=health.show_details,
            show_components=health.show_components or health.show_details,
        )
        self.health_groups: dict[str, HealthGroup] = {}
        for name, builtin in _BUILTIN_GROUPS.items():
            config = health.groups.get(name, GroupSettings())
            self.health_groups[name] = self._make_group(name, config, builtin)
        for name, config in health.groups.items():
            if name not in self.health_groups:
                self.health_groups[name] = self._make_group(name, config, ())

    def _make_group(
        self, name: str, config: GroupSettings, builtin: tuple[str, ...]
    ) -> HealthGroup:
        root = self.root_health_group
        show_details = config.show_details or root.show_details
        return HealthGroup(
            name,
            include=(*builtin, *config.include),
            exclude=tuple(config.exclude),
            aggregator=(StatusAggregator(config.status_order) if config.status_order
                        else root.aggregator),
            http_mapper=(HttpCodeStatusMapper(config.http_mapping) if config.http_mapping
                         else root.http_mapper),
            show_details=show_details,
            show_components=config.show_components or config.show_details
            or root.show_components,
        )

    def _register_builtins(self) -> None:
        from actuator.health.indicators.disk import DiskSpaceIndicator
        from actuator.health.indicators.event_loop import EventLoopLagIndicator
        from actuator.health.indicators.ping import ping
        from actuator.info.contributors import builtin_contributors

        availability = self.availability
        self.add_indicator("livenessState", availability.liveness_health, blocking=False)
        self.add_indicator("readinessState", availability.readiness_health, blocking=False)
        self.add_indicator("startupState", availability.startup_health, blocking=False)
        health = self.settings.health
        if health.ping.enabled:
            self.add_indicator("ping", ping)
        if health.disk_space.enabled:
            self.add_indicator("diskSpace", DiskSpaceIndicator(
                health.disk_space.path, threshold=health.disk_space.threshold))
        if health.event_loop.enabled:
            loop = health.event_loop
            self.add_indicator("eventLoop", EventLoopLagIndicator(
                threshold=loop.threshold, interval=loop.interval, recent=loop.recent,
                watchdog=loop.watchdog))
        for name, contributor in builtin_contributors(self).items():
            if name not in self.settings.info.exclude:
                self.add_contributor(name, contributor)

    # -- info -----------------------------------------------------------------

    def add_contributor(self, name: str, contributor: Contributor) -> None:
        """Add a section to ``/actuator/info``: a callable or an object with ``contribute()``,
        sync or async, returning a JSON-able mapping."""
        check_indicator_name(name)
        if name in self._contributors:
            raise ValueError(f"an info contributor named {name!r} is already registered")
        fn = contributor_callable(contributor, name)
        self._contributors[name] = GuardedCall(fn, name=f"info contributor {name!r}")
        self._contributor_sources[name] = contributor
        self._remember_hooks(contributor)

    def remove_contributor(self, name: str) -> None:
        """Remove an ``info`` section. Raises ``KeyError`` when no contributor has that name."""
        call = self._contributors.pop(name, None)
        if call is None:
            raise KeyError(f"no info contributor named {name!r}")
        self._forget_hooks(self._contributor_sources.pop(name))

    @property
    def contributors(self) -> Mapping[str, GuardedCall[object]]:
        return dict(self._contributors)

    @property
    def app_info(self) -> Mapping[str, Any]:
        """``name``, ``version`` and ``description``: from code, settings, then package metadata."""
        if self._app_info is None:
            from actuator.info.contributors.app import resolve_app_info

            self._app_info = resolve_app_info(
                self.settings.info.app, self._name, self._version, self._description)
        return self._app_info

    async def info(self) -> dict[str, Any]:
        """Everything ``/actuator/info`` would answer."""
        from actuator.endpoints.info import gather_info

        return await gather_info(self)

    # -- endpoints ------------------------------------------------------------

    def add_endpoint(self, endpoint: Endpoint) -> None:
        """Register an endpoint, served at ``{base_path}/{endpoint.name}`` when exposed."""
        if not isinstance(endpoint, Endpoint):
            raise TypeError(f"endpoint must be an Endpoint, got {type(endpoint).__name__}")
        name = check_endpoint_name(endpoint.name)
        if name in self._endpoints:
            raise ValueError(f"an endpoint named {name!r} is already registered")
        self._endpoints[name] = endpoint

    @property
    def endpoints(self) -> Mapping[str, Endpoint]:
        return dict(self._endpoints)

    def exposed_endpoint(self, name: str) -> Endpoint | None:
        endpoint = self._endpoints.get(name)
        if endpoint is None or not self.settings.exposure.exposes(name):
            return None
        return endpoint

    def exposed_endpoints(self) -> list[Endpoint]:
        return [e for n, e in self._endpoints.items() if self.settings.exposure.exposes(n)]

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

    async def authenticate(self, scope: Scope, *, verify_passwords: bool = True
                           ) -> SecurityContext:
        """The caller of a request, from hooks, credentials or a TLS client certificate.

        Raises ``actuator._auth.AuthError`` (401) for invalid credentials, 429
        after too many failures from the client's address, 503 when too many
        password checks run at once. ``verify_passwords=False``: see ``Guard``.
        """
        return await self.guard.authenticate(scope, verify_passwords=verify_passwords)

    # -- lifecycle ------------------------------------------------------------

    async def startup(self) -> None:
        """Start background work: refreshers, heartbeats, hooks. Idempotent.

        The middleware calls this on ASGI lifespan startup (or on the first
        request when the server runs without lifespan).
        """
        if self._started:
            return
        self._started = True
        for hook in self._hooks:
            await _call_hook(hook, "start")
        for endpoint in self._endpoints.values():
            await endpoint.startup()
        self.checker.start_refreshing(
            leaf for r in self._registrations.values() for leaf in r.leaves()
        )
        if self.settings.drain_period > 0:
            from actuator.management.drain import SignalDrain

            self._drain = SignalDrain(self.availability, self.settings.drain_period)
            self._drain.install()

    async def shutdown(self) -> None:
        """Stop background work. Idempotent."""
        if not self._started:
            return
        self._started = False
        if self._drain is not None:
            self._drain.uninstall()
            self._drain = None
        await self.checker.stop()
        for endpoint in reversed(list(self._endpoints.values())):
            await _quietly(endpoint.shutdown())
        for hook in reversed(self._hooks):
            await _call_hook(hook, "stop")

    @property
    def started(self) -> bool:
        return self._started

    def wrap(self, app: ASGIApp) -> ActuatorMiddleware:
        """``app`` with the actuator mounted in front of it."""
        from actuator.middleware import ActuatorMiddleware

        return ActuatorMiddleware(app, actuator=self)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the actuator alone, as its own ASGI app (a sidecar or a management port)."""
        standalone = self._standalone
        if standalone is None:
            from actuator.middleware import ActuatorMiddleware, not_found_app

            standalone = self._standalone = ActuatorMiddleware(not_found_app, actuator=self)
        await standalone(scope, receive, send)

    def _remember_hooks(self, obj: object) -> None:
        if isinstance(obj, Mapping):
            for member in obj.values():
                self._remember_hooks(member)
        elif callable(getattr(obj, "start", None)) or callable(getattr(obj, "stop", None)):
            self._hooks.append(obj)
            if self._started:
                # Registered after startup: start it now, on the running loop if any.
                self._spawn(_call_hook(obj, "start"))


    def _forget_hooks(self, obj: object) -> None:
        """Undo ``_remember_hooks``: a removed indicator is stopped if the app is running."""
        if isinstance(obj, Mapping):
            for member in obj.values():
                self._forget_hooks(member)
            return
        if not any(hook is obj for hook in self._hooks):
            return
        self._hooks = [hook for hook in self._hooks if hook is not obj]
        if self._started:
            self._spawn(_call_hook(obj, "stop"))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        # Keep a reference: the loop holds tasks weakly, and a lost one may never finish.
        try:
            task = asyncio.get_running_loop().create_task(coroutine)
        except RuntimeError:
            coroutine.close()  # no running loop: nothing to start or stop on
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _call_hook(obj: object, method: str) -> None:
    fn = getattr(obj, method, None)
    if not callable(fn):
        return
    try:
        result = fn()
        if inspect.isawaitable(result):
            await result
    except Exception:
        logger.exception("%s.%s() failed", type(obj).__name__, method)


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:
        logger.exception("Actuator shutdown step failed")


def _names(values: Iterable[str], label: str) -> list[str]:
    if isinstance(values, str):
        raise TypeError(f"{label} must be a list of names, not a string")
    return [check_indicator_name(v) for v in values]

