"""Runtime management from Python: the part of ``Actuator`` behind the management endpoints.

Everything the management endpoints do over HTTP, the app can do from code
(recorded in the audit log as done by ``app``)::

    actuator.pause("schema migration")           # readiness OUT_OF_SERVICE, app requests 503
    await actuator.wait_resumed()                 # in a background worker
    actuator.resume()
    actuator.set_log_level("orders.db", "DEBUG")
    actuator.add_logger_group("web", ["orders"])
    actuator.add_env_source("features", {"checkout.v2": True})
    actuator.add_facts(datacenter="eu-west-1", team="payments")
    plan = actuator.request_shutdown("rolling restart")
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from starlette.types import ASGIApp

from actuator.info.contributor import Contributor
from actuator.management.audit import APP
from actuator.management.environment import Environment, Sanitizer, Source
from actuator.management.log_levels import LogLevels
from actuator.management.pause import Callback, PauseControl
from actuator.management.profiles import SYSTEM_PROPERTIES, system_properties
from actuator.management.shutdown import ShutdownControl, ShutdownPlan

if TYPE_CHECKING:
    from actuator.core import Actuator

Fact = str | int | float | bool


class Management:
    """Mixed into ``Actuator``: pause/resume, log levels, env sources, facts and shutdown."""

    host_app: ASGIApp | None
    """The app the actuator middleware wraps (what ``/mappings`` describes)."""
    pause_control: PauseControl
    shutdown_control: ShutdownControl
    log_levels: LogLevels
    environment: Environment
    _facts: dict[str, Fact]

    def _init_management(self) -> None:
        from actuator.endpoints.env import EnvEndpoint
        from actuator.endpoints.loggers import LoggersEndpoint
        from actuator.endpoints.mappings import MappingsEndpoint
        from actuator.endpoints.pause import FlipEndpoint, PauseEndpoint, ResumeEndpoint
        from actuator.endpoints.ping import PingEndpoint
        from actuator.endpoints.shutdown import ShutdownEndpoint
        from actuator.endpoints.threaddump import ThreadDumpEndpoint
        from actuator.info.contributors.facts import FactsContributor
        from actuator.info.contributors.features import FeaturesContributor

        actuator = cast("Actuator", self)
        settings = actuator.settings
        self.host_app = None
        self.pause_control = PauseControl(actuator.availability, settings.pause)
        self.shutdown_control = ShutdownControl(actuator.availability, settings)
        self.log_levels = LogLevels(settings.loggers.groups)
        self.environment = Environment(settings)
        self.environment.add_source(SYSTEM_PROPERTIES, system_properties)
        self._facts = {}
        self.add_facts(settings.info.facts)
        actuator._remember_hooks(self.pause_control)
        actuator._remember_hooks(self.shutdown_control)
        actuator.add_endpoint(PingEndpoint())
        actuator.add_endpoint(LoggersEndpoint(self.log_levels))
        for pause in (PauseEndpoint, ResumeEndpoint, FlipEndpoint):
            actuator.add_endpoint(pause(self.pause_control))
        if settings.shutdown.enabled:
            actuator.add_endpoint(ShutdownEndpoint(self.shutdown_control))
        actuator.add_endpoint(EnvEndpoint(self.environment))
        actuator.add_endpoint(ThreadDumpEndpoint())
        actuator.add_endpoint(MappingsEndpoint(actuator))
        contributors: dict[str, Contributor] = {"features": FeaturesContributor(actuator),
                        "facts": FactsContributor(lambda: self._facts)}
        for name, contributor in contributors.items():
            if name not in settings.info.exclude:
                actuator.add_contributor(name, contributor)

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
                    isinstance(value, float) and not math.isfinite(value)):
                raise TypeError(f"fact {key!r} must be a string, number or boolean, "
                                f"got {type(value).__name__}")
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
