"""The health endpoint: ``/health``, ``/health/{group}``, ``/health/{component}/...``."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from actuator.endpoints.base import (
    ACTUATOR_V2_JSON,
    JSON_TYPES,
    Endpoint,
    EndpointResponse,
    NotFound,
    OperationRequest,
)
from actuator.health.groups import HealthGroup, shows
from actuator.health.result import CompositeHealth, HealthComponent
from actuator.health.service import HealthService

HEALTH_JSON = "application/health+json"


class HealthEndpoint(Endpoint):
    """Aggregated health in Spring Boot's v3 shape, or the IETF ``application/health+json`` shape.

    ``GET /health`` answers ``{"status", "components", "groups"}``; asked for
    Spring Boot's v2 media type, a composite's ``components`` are called
    ``details`` instead, as Spring Boot 2.0/2.1 named them;
    ``/health/{group}`` narrows to a group, ``/health/{component}`` (and
    ``/health/{group}/{component}``, and deeper into composites) to one
    component. Component paths exist only when components are shown.
    The HTTP status comes from the group's status mapper (503 for DOWN,
    OUT_OF_SERVICE and INIT by default).
    """

    name: ClassVar[str] = "health"
    selector: ClassVar[str | None] = "*path"
    produces: ClassVar[tuple[str, ...]] = (*JSON_TYPES, HEALTH_JSON)
    max_path: ClassVar[int | None] = None

    def __init__(self, health: HealthService, app_info: Callable[[], Mapping[str, Any]]) -> None:
        self.health = health
        self.app_info = app_info

    def needs_identity(self) -> bool:
        """Only a ``when_authorized`` policy makes the answer depend on the caller."""
        groups = [self.health.root_group, *self.health.groups.values()]
        return any("when_authorized" in (g.show_details, g.show_components) for g in groups)

    async def read(self, request: OperationRequest) -> EndpointResponse:
        path = request.path
        groups = self.health.groups
        group, rest = self.health.resolve(path)
        authorized = request.security.authorized
        show_components = shows(group.show_components, authorized)
        show_details = shows(group.show_details, authorized)
        if rest and not show_components:
            raise NotFound(f"No health group or component at {'/'.join(path)!r}")
        selected = self.health.select(group, rest)
        if selected is None:
            raise NotFound(f"No health group or component at {'/'.join(path)!r}")

        component = await self.health.check(selected, group)
        http_status = group.http_mapper.status_code(component.status)
        is_root = not path
        if request.media_type == HEALTH_JSON:
            body = _ietf(component, self.app_info(), group, show_components, show_details)
        else:
            key = "details" if request.media_type == ACTUATOR_V2_JSON else "components"
            body = _spring(component, show_components, show_details, key)
            if is_root and groups:
                body["groups"] = sorted(groups)
        return EndpointResponse(body=body, status=http_status, media_type=request.media_type)


def _spring(
    component: HealthComponent,
    show_components: bool,
    show_details: bool,
    components_key: str = "components",
) -> dict[str, Any]:
    body: dict[str, Any] = {"status": component.status.code}
    if component.status.description:
        body["description"] = component.status.description
    if isinstance(component, CompositeHealth):
        if show_components:
            body[components_key] = {
                name: _spring(child, show_components, show_details, components_key)
                for name, child in component.components.items()
            }
    elif show_details and component.details:
        body["details"] = dict(component.details)
    return body


_IETF = {"UP": "pass", "UNKNOWN": "warn"}


def _ietf(
    component: HealthComponent,
    info: Mapping[str, Any],
    group: HealthGroup,
    show_components: bool,
    show_details: bool,
) -> dict[str, Any]:
    """The draft-inadarei-api-health-check shape: ``pass``/``warn``/``fail`` and ``checks``.

    ``fail`` is whatever the group answers with an HTTP error, so the body
    never says ``fail`` on a 200 answer (nor ``pass`` on a 503).
    """
    mapper = group.http_mapper

    def ietf_status(health: HealthComponent) -> str:
        if mapper.status_code(health.status) >= 400:
            return "fail"
        return _IETF.get(health.status.code, "warn")

    body: dict[str, Any] = {"status": ietf_status(component)}
    if info.get("version"):
        body["version"] = str(info["version"]).split(".")[0]
        body["releaseId"] = str(info["version"])
    if info.get("name"):
        body["serviceId"] = str(info["name"])
    if info.get("description"):
        body["description"] = str(info["description"])
    if not show_components:
        return body
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    checks: dict[str, list[dict[str, Any]]] = {}

    def walk(name: str, health: HealthComponent) -> None:
        if isinstance(health, CompositeHealth):
            for child_name, child in health.components.items():
                walk(f"{name}/{child_name}" if name else child_name, child)
            return
        entry: dict[str, Any] = {"status": ietf_status(health), "time": now}
        if show_details:
            details = dict(health.details)
            if "error" in details:
                entry["output"] = str(details.pop("error"))
            if details:
                entry["details"] = details
        checks[name or "self"] = [entry]

    walk("", component)
    body["checks"] = checks
    return body
