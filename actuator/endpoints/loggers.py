"""The loggers endpoint: read and set log levels at run time, in Spring Boot's shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from actuator.endpoints._body import Body, parse_body
from actuator.endpoints.base import (
    BadRequest,
    Endpoint,
    EndpointResponse,
    NotFound,
    Operation,
    OperationRequest,
)
from actuator.management.audit import caller
from actuator.management.log_levels import COARSE_LEVELS, LEVELS, UnknownLevel

if TYPE_CHECKING:
    from actuator.management.log_levels import LogLevels


class LevelBody(Body):
    configuredLevel: str | None = None  # Spring Boot's field name


class LoggersEndpoint(Endpoint):
    """``GET /loggers``, ``GET /loggers/{name}``, ``POST /loggers/{name}``.

    ``GET /loggers`` answers ``{"levels": [...], "loggers": {name: {"configuredLevel",
    "effectiveLevel"}}, "groups": {name: {"configuredLevel", "members"}}}``.
    ``POST /loggers/{name}`` with ``{"configuredLevel": "DEBUG"}`` sets the level
    of a logger or group (204); ``{}`` or ``null`` clears it. Unknown logger:
    404; unknown level: 400 listing the valid ones.
    """

    name: ClassVar[str] = "loggers"
    selector: ClassVar[str | None] = "name"

    def __init__(self, levels: LogLevels) -> None:
        self.levels = levels

    def operations(self, path: tuple[str, ...]) -> frozenset[Operation]:
        if not path:
            return frozenset({"read"})
        if len(path) == 1:
            return frozenset({"read", "write"})
        return frozenset()

    async def read(self, request: OperationRequest) -> Any:
        if not request.path:
            return self.levels.snapshot()
        try:
            return self.levels.describe(request.path[0])
        except KeyError:
            raise NotFound(f"No logger or logger group named {request.path[0]!r}") from None

    async def write(self, request: OperationRequest) -> EndpointResponse:
        name = request.path[0]
        level = parse_body(LevelBody, request.body).configuredLevel
        try:
            self.levels.set(name, level, create=False, by=caller(request))
        except UnknownLevel as exc:
            raise BadRequest(
                str(exc),
                field="configuredLevel",
                validLevels=list(LEVELS),
                coarseLevels=list(COARSE_LEVELS),
            ) from None
        except KeyError:
            raise NotFound(f"No logger or logger group named {name!r}") from None
        return EndpointResponse(status=204)
