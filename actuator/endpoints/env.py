"""The env endpoint: environment variables, the actuator's settings and the app's sources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from actuator.endpoints.base import Endpoint, NotFound, OperationRequest
from actuator.health.groups import shows

if TYPE_CHECKING:
    from actuator.management.environment import Environment


class EnvEndpoint(Endpoint):
    """``GET /env`` and ``GET /env/{name}``, in Spring Boot's shape, values masked.

    ``GET /env`` answers ``{"activeProfiles": [], "propertySources": [{"name":
    "systemEnvironment", "properties": {"HOME": {"value": "******"}}}, ...]}``;
    ``GET /env/{name}`` answers ``{"property": {"source", "value"},
    "propertySources": [...]}`` or 404. See ``actuator.environment`` for masking.
    """

    name: ClassVar[str] = "env"
    selector: ClassVar[str | None] = "toMatch"

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        env = self.environment
        show = shows(env.settings.env.show_values, request.security.authorized)
        if not request.path:
            return env.describe(show=show)
        found = env.describe_property(request.path[0], show=show)
        if found is None:
            raise NotFound(f"No property named {request.path[0]!r}")
        return found
