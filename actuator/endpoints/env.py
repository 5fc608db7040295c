"""The env endpoint: environment variables, the actuator's settings and the app's sources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from actuator.endpoints.base import Endpoint, NotFound, OperationRequest
from actuator.health.groups import shows
from actuator.management.environment import SYSTEM_ENVIRONMENT
from actuator.management.profiles import DEFAULT_PROFILES, active_profiles

if TYPE_CHECKING:
    from actuator.management.environment import Environment


class EnvEndpoint(Endpoint):
    """``GET /env`` and ``GET /env/{name}``, in Spring Boot's shape, values masked.

    ``GET /env`` answers ``{"activeProfiles": [], "defaultProfiles": ["default"],
    "propertySources": [{"name": "systemEnvironment", "properties": {"HOME":
    {"value": "******"}}}, ...]}``; ``GET /env/{name}`` answers ``{"property":
    {"source", "value"}, "activeProfiles", "defaultProfiles", "propertySources":
    [...]}`` or 404. See ``actuator.management.environment`` for masking and
    ``actuator.management.profiles`` for the profiles and the ``systemProperties`` source
    (``/env/PID``).
    """

    name: ClassVar[str] = "env"
    selector: ClassVar[str | None] = "toMatch"

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        env = self.environment
        show = shows(env.settings.env.show_values, request.security.authorized)
        found: dict[str, Any] | None
        if not request.path:
            found = env.describe(show=show)
        else:
            found = env.describe_property(request.path[0], show=show)
        if found is None:
            raise NotFound(f"No property named {request.path[0]!r}")
        _add_origins(found.get("propertySources", ()), request.path[0] if request.path else None)
        return {
            "activeProfiles": active_profiles(),
            "defaultProfiles": list(DEFAULT_PROFILES),
            **{k: v for k, v in found.items() if k != "activeProfiles"},
        }


def _add_origins(sources: Any, name: str | None) -> None:
    """Spring's ``origin`` of an environment variable, which SBA's env view shows; ``name``
    is the property of a ``/env/{name}`` answer."""
    for source in sources:
        if source.get("name") != SYSTEM_ENVIRONMENT:
            continue
        for key, entry in source.get("properties", {}).items():
            entry.setdefault("origin", f'System Environment Property "{key}"')
        if name is not None and "property" in source:
            source["property"].setdefault("origin", f'System Environment Property "{name}"')
