"""The rest of Spring Boot's endpoints, as far as they mean something for a Python service.

Mixed into ``Actuator``: ``startup``, ``httpexchanges``, ``logfile``,
``scheduledtasks``, ``sbom``, ``configprops``, ``auditevents`` and ``caches``,
each in its own module under ``actuator.endpoints``, each served only when
exposed, and the methods the app uses to feed them::

    with actuator.startup_step("db.migrate"):          # a step of /startup
        await migrate()

    @actuator.scheduled(fixed_rate=30)                  # run and shown by /scheduledtasks
    async def refresh_prices() -> None: ...

    actuator.add_cache("countries", load_countries)     # an lru_cache, in /caches
    actuator.add_config_properties(OrdersSettings())    # a pydantic-settings model, in /configprops
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel
from starlette.types import ASGIApp

from actuator.endpoints.auditevents import AuditEventsEndpoint, AuditEventStore
from actuator.endpoints.caches import DEFAULT_MANAGER, CacheRegistry, CachesEndpoint
from actuator.endpoints.configprops import ConfigProperties, ConfigPropsEndpoint
from actuator.endpoints.httpexchanges import (
    HttpExchangeRecorder,
    HttpExchanges,
    HttpExchangesEndpoint,
)
from actuator.endpoints.logfile import LogfileEndpoint
from actuator.endpoints.sbom import SbomEndpoint
from actuator.endpoints.scheduledtasks import ScheduledTasks, ScheduledTasksEndpoint
from actuator.endpoints.startup import StartupEndpoint, StartupTimeline
from actuator.info.contributors.runtime import process_start_time
from actuator.settings import ENV_PREFIX

if TYPE_CHECKING:
    from actuator.endpoints.base import Endpoint
    from actuator.health.checker import HealthCheck, HealthChecker
    from actuator.management.environment import Environment
    from actuator.settings import ActuatorSettings

F = TypeVar("F", bound=Callable[..., Any])


class SpringEndpoints:
    """Mixed into ``Actuator``: the state behind the endpoints above, and its methods."""

    startup_timeline: StartupTimeline
    http_exchanges: HttpExchanges
    scheduled_tasks: ScheduledTasks
    caches: CacheRegistry
    config_properties: ConfigProperties
    audit_events: AuditEventStore

    def _init_spring_endpoints(
        self,
        settings: ActuatorSettings,
        environment: Environment,
        checker: HealthChecker,
        checks: Callable[[], Iterable[HealthCheck]],
        application: Callable[[], Mapping[str, Any]],
        add_endpoint: Callable[[Endpoint], None],
        remember_hooks: Callable[[object], None],
    ) -> None:
        """Build the state and the endpoints from the narrow objects they use."""
        self._record_exchanges = settings.exposure.exposes("httpexchanges")
        self.startup_timeline = StartupTimeline(process_start_time(), time.time())
        self.http_exchanges = HttpExchanges(
            settings.httpexchanges.capacity,
            settings.httpexchanges.include,
            lambda source, key, value: environment.sanitize(source, key, value, show=True),
        )
        self.scheduled_tasks = ScheduledTasks()
        self.caches = CacheRegistry()
        self.config_properties = ConfigProperties(settings, ENV_PREFIX)
        self.audit_events = AuditEventStore(settings.auditevents.capacity)
        remember_hooks(self.scheduled_tasks)
        first_check = settings.exposure.exposes("startup") and settings.startup.first_health_check
        add_endpoint(
            StartupEndpoint(
                self.startup_timeline,
                checker=checker if first_check else None,
                checks=checks,
                deadline=settings.health.deadline,
            )
        )
        add_endpoint(HttpExchangesEndpoint(self.http_exchanges))
        add_endpoint(LogfileEndpoint(settings.logfile.path))
        add_endpoint(ScheduledTasksEndpoint(self.scheduled_tasks))
        add_endpoint(SbomEndpoint(application))
        add_endpoint(
            ConfigPropsEndpoint(
                self.config_properties, environment.sanitize, settings.configprops.show_values
            )
        )
        add_endpoint(AuditEventsEndpoint(self.audit_events))
        add_endpoint(CachesEndpoint(self.caches))

    def record_http_exchanges(self, app: ASGIApp) -> ASGIApp:
        """``app``, recording its requests for ``/httpexchanges`` if that is exposed (else as is:
        nothing is recorded, nothing costs)."""
        if not self._record_exchanges:
            return app
        return HttpExchangeRecorder(app, self.http_exchanges)

    def startup_step(self, name: str, **tags: object) -> contextlib.AbstractContextManager[None]:
        """Time a block of start-up code as a step of ``/actuator/startup``::

        with actuator.startup_step("db.migrate", database="orders"):
            await migrate()
        """
        return self.startup_timeline.step(name, **tags)

    def scheduled(
        self,
        *,
        fixed_delay: float | None = None,
        fixed_rate: float | None = None,
        initial_delay: float = 0.0,
        name: str | None = None,
    ) -> Callable[[F], F]:
        """Run the decorated function periodically from start-up to shutdown, shown in
        ``/actuator/scheduledtasks`` with its last and next run. See ``ScheduledTasks``."""
        return self.scheduled_tasks.scheduled(
            fixed_delay=fixed_delay, fixed_rate=fixed_rate, initial_delay=initial_delay, name=name
        )

    def add_cache(self, name: str, cache: object, *, manager: str = DEFAULT_MANAGER) -> None:
        """Show a cache in ``/actuator/caches`` (an ``lru_cache`` function, a cachetools cache,
        anything with ``clear()``); ``DELETE`` there clears it."""
        self.caches.add(name, cache, manager=manager)

    def add_config_properties(
        self, model: BaseModel | Callable[[], BaseModel], prefix: str | None = None
    ) -> None:
        """Show a pydantic(-settings) model in ``/actuator/configprops``, masked."""
        self.config_properties.add(model, prefix)


__all__ = ["SpringEndpoints"]
