"""What Spring Boot Admin (codecentric/spring-boot-admin) does with an instance's answers.

Each function mirrors one piece of SBA's code, named in its docstring, so a test
can make the requests SBA makes and judge the answers as SBA would. The
``check_*`` functions assert the fields SBA's UI reads; they accept Spring
Boot's own documented answers too (tests/e2e/test_spring_boot_admin.py runs
them on both). Paths are relative to the SBA repository:

- server: ``spring-boot-admin-server/src/main/java/de/codecentric/boot/admin/server/``
- UI: ``spring-boot-admin-server-ui/src/main/frontend/``
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

V3 = "application/vnd.spring-boot.actuator.v3+json"
V2 = "application/vnd.spring-boot.actuator.v2+json"
V1 = "application/vnd.spring-boot.actuator.v1+json"
JSON = "application/json"

SERVER_ACCEPT = ", ".join([V3, V2, V1, JSON])
"""``web/client/InstanceExchangeFilterFunctions.DEFAULT_ACCEPT_MEDIA_TYPES``, which
``setDefaultAcceptHeader`` puts on every request the server makes to an instance."""

UI_ACCEPT = ",".join([V3, V2, V1, JSON])
"""``services/spring-mime-types.ts`` ``actuatorMimeTypes``, the UI's Accept header
(``services/instance.ts``), forwarded to the instance by SBA's proxy."""

PROBED_ENDPOINTS = (
    "health",
    "env",
    "metrics",
    "httptrace:trace",
    "httptrace",
    "threaddump:dump",
    "threaddump",
    "jolokia",
    "info",
    "logfile",
    "refresh",
    "flyway",
    "liquibase",
    "heapdump",
    "loggers",
    "auditevents",
    "mappings",
    "scheduledtasks",
    "configprops",
    "caches",
    "beans",
    "conditions",
    "httpexchanges",
    "integrationgraph",
    "quartz",
    "sessions",
    "shutdown",
    "startup",
    "prometheus",
    "sbom",
)
"""``config/AdminServerProperties.probedEndpoints``: what ``ProbeEndpointsStrategy`` asks for."""

THREAD_STATES = frozenset({"NEW", "RUNNABLE", "BLOCKED", "WAITING", "TIMED_WAITING", "TERMINATED"})
"""Java's ``Thread.State``, which ``views/instances/threaddump/thread-tag.vue`` colours."""


def media_type(response: httpx.Response) -> str:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";")[0].strip().lower()


def is_api_media_type(content_type: str) -> bool:
    """``services/ApiMediaTypeHandler.isApiMediaType``: Spring Boot's v2 or v3 type."""
    return content_type in (V2, V3)


def is_legacy(content_type: str) -> bool:
    """``InstanceExchangeFilterFunctions.isLegacyResponse``: a v1 or plain JSON answer is run
    through SBA's Spring Boot 1.x converters (``LegacyEndpointConverters``)."""
    return content_type in (V1, JSON)


def query_index(
    client: httpx.Client, management_url: str, service_url: str
) -> dict[str, str] | None:
    """``services/endpoints/QueryIndexEndpointStrategy.detectEndpoints``: the discovery page,
    accepted only with a v2/v3 content type; every link but ``self`` and templated ones."""
    if management_url == service_url:
        return None
    response = client.get(management_url, headers={"Accept": SERVER_ACCEPT})
    if not response.is_success or not is_api_media_type(media_type(response)):
        return None
    links = response.json()["_links"]
    found = {
        name: link["href"]
        for name, link in links.items()
        if name != "self" and not link.get("templated", False)
    }
    return found or None


def probe_endpoints(client: httpx.Client, management_url: str) -> dict[str, str]:
    """``services/endpoints/ProbeEndpointsStrategy.detectEndpoints``: ``OPTIONS`` on each
    probed path; a 2xx answer means the endpoint is there (the first path per id wins)."""
    found: dict[str, str] = {}
    for definition in PROBED_ENDPOINTS:
        endpoint_id, _, path = definition.partition(":")
        url = f"{management_url.rstrip('/')}/{path or endpoint_id}"
        if endpoint_id not in found and client.options(url).is_success:
            found[endpoint_id] = url
    return found


def status_info(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """``services/StatusUpdater.convertStatusInfo``: the instance's status and details.

    A JSON (or v2/v3) body whose ``status`` is a string is the status; otherwise
    the HTTP status decides: 2xx is UP, anything else DOWN with the body as details.
    """
    compatible = media_type(response) == JSON or is_api_media_type(media_type(response))
    body: dict[str, Any] = response.json() if compatible and response.content else {}
    if isinstance(body.get("status"), str):
        return body["status"], body.get("details", body.get("components", {}))
    if response.is_success:
        return "UP", {}
    details: dict[str, Any] = {"status": response.status_code, "error": response.reason_phrase}
    details.update(body["details"] if isinstance(body.get("details"), Mapping) else body)
    return "DOWN", details


def info(response: httpx.Response) -> dict[str, Any]:
    """``services/InfoUpdater.convertInfo``: the body of a 2xx JSON answer, else empty."""
    compatible = media_type(response) == JSON or is_api_media_type(media_type(response))
    return response.json() if response.is_success and compatible else {}


# -- the fields the UI reads ---------------------------------------------------


def check_discovery(body: Mapping[str, Any]) -> None:
    """``QueryIndexEndpointStrategy.Response``: ``_links.<id>.href`` and ``templated``."""
    links = body["_links"]
    assert isinstance(links["self"]["href"], str)
    for link in links.values():
        assert isinstance(link["href"], str)
        assert isinstance(link["templated"], bool)


def check_health(body: Mapping[str, Any]) -> None:
    """``views/instances/details/details-health.vue`` and ``health-details.vue``: a string
    ``status``; ``components`` (v3), each a health again with optional ``details``."""
    assert isinstance(body["status"], str)
    for component in body.get("components", {}).values():
        check_health(component)
    assert isinstance(body.get("details", {}), Mapping)


def check_info(body: Mapping[str, Any]) -> None:
    """``domain/values/Info`` and the instance list (``views/applications``): the version
    shown is ``build.version`` (or a top-level ``version``)."""
    version = body.get("build", {}).get("version", body.get("version"))
    assert isinstance(version, str)
    assert version


def check_metrics_index(body: Mapping[str, Any]) -> None:
    """``services/instance.ts`` ``fetchMetrics``: ``names``, looked up by dotted name."""
    names = body["names"]
    assert isinstance(names, list)
    assert all(isinstance(name, str) for name in names)


def check_metric(body: Mapping[str, Any]) -> None:
    """``views/instances/metrics/metric.vue`` and ``details-process.vue``:
    ``measurements[].statistic/value``, ``availableTags[].tag/values``, ``baseUnit``."""
    assert isinstance(body["name"], str)
    assert body["measurements"]
    for measurement in body["measurements"]:
        assert isinstance(measurement["statistic"], str)
        assert isinstance(measurement["value"], (int, float))
    for tag in body["availableTags"]:
        assert isinstance(tag["tag"], str)
        assert isinstance(tag["values"], list)
    assert body.get("baseUnit") is None or isinstance(body["baseUnit"], str)


def check_env(body: Mapping[str, Any]) -> None:
    """``views/instances/env/index.vue``: ``activeProfiles`` (required), ``defaultProfiles``,
    ``propertySources[].name`` and ``properties.<key>.value`` (``origin`` optional)."""
    assert isinstance(body["activeProfiles"], list)
    assert isinstance(body.get("defaultProfiles", []), list)
    for source in body["propertySources"]:
        assert isinstance(source["name"], str)
        for entry in source.get("properties", {}).values():
            assert "value" in entry
            assert isinstance(entry.get("origin", ""), str)


def check_env_property(body: Mapping[str, Any]) -> None:
    """``views/instances/details/details-process.vue`` ``fetchPid``: ``property.value``."""
    assert "value" in body["property"]
    assert isinstance(body["property"]["source"], str)


def check_mappings(body: Mapping[str, Any]) -> None:
    """``views/instances/mappings/index.vue`` and ``DispatcherMappings.vue``: per context,
    ``mappings.dispatcherServlets`` or ``dispatcherHandlers``, each a list of
    ``{predicate, handler, details.requestMappingConditions}`` with every condition array."""
    assert body["contexts"]
    for context in body["contexts"].values():
        mappings = context["mappings"]
        dispatchers = mappings.get("dispatcherHandlers") or mappings["dispatcherServlets"]
        for handlers in dispatchers.values():
            for mapping in handlers:
                assert isinstance(mapping["predicate"], str)
                assert isinstance(mapping["handler"], str)
                conditions = (mapping.get("details") or {}).get("requestMappingConditions")
                if conditions is None:
                    continue
                for key in ("patterns", "methods", "consumes", "produces", "params", "headers"):
                    assert isinstance(conditions[key], list), key


def check_threaddump(body: Mapping[str, Any]) -> None:
    """``views/instances/threaddump/index.vue``, ``threads-list.vue`` and
    ``thread-list-item.vue``: ``threads[]`` with ``threadId``, ``threadName``, a Java
    ``threadState``, the blocked/waited/lock fields and ``stackTrace[]`` frames."""
    assert body["threads"]
    for thread in body["threads"]:
        assert isinstance(thread["threadId"], int)
        assert isinstance(thread["threadName"], str)
        assert thread["threadState"] in THREAD_STATES
        for key in ("blockedCount", "blockedTime", "waitedCount", "waitedTime"):
            assert isinstance(thread[key], int), key
        assert isinstance(thread.get("lockName"), (str, type(None)))
        for frame in thread["stackTrace"]:
            assert {"className", "methodName", "fileName", "lineNumber"} <= set(frame)


def check_loggers(body: Mapping[str, Any]) -> None:
    """``views/instances/loggers/loggers.vue`` and ``logger-control.vue``: ``levels``,
    ``loggers.<name>.configuredLevel/effectiveLevel`` and ``groups.<name>.members``."""
    levels = body["levels"]
    assert isinstance(levels, list)
    for logger in body["loggers"].values():
        assert logger["configuredLevel"] is None or logger["configuredLevel"] in levels
        assert logger["effectiveLevel"] in levels
    for group in body.get("groups", {}).values():
        assert isinstance(group["members"], list)
        assert group["configuredLevel"] is None or group["configuredLevel"] in levels


# -- the registration side -----------------------------------------------------
#
# A Spring Boot Admin server's registration API, as its own code defines it, for
# tests of clients (the actuator's registrator) where the Java server is not at hand:
#
# - ``web/InstancesController``: ``POST /instances`` (consumes application/json) answers
#   201 Created with ``{"id": ...}`` and a Location of ``/instances/{id}``;
#   ``DELETE /instances/{id}`` answers 204, or 404 for an id it does not hold.
# - ``utils/jackson/RegistrationDeserializer``: ``name``; the 1.x ``url`` (health at
#   ``url/health``) or ``healthUrl``/``health_url``, ``managementUrl``/``management_url``,
#   ``serviceUrl``/``service_url``; ``metadata`` values as text.
# - ``domain/values/Registration``: ``name`` and ``healthUrl`` must not be empty, and
#   every URL given must be absolute, else the request is refused (400).
# - ``services/HashingInstanceUrlIdGenerator``: the id is the first 12 hex digits of the
#   SHA-1 of the health URL, so registering again with the same data keeps the id.
# - Securing the server with HTTP basic (Spring Security), as SBA's reference guide
#   shows with ``spring.boot.admin.client.username``/``password`` on the client.


def sba_instance_id(health_url: str) -> str:
    """``HashingInstanceUrlIdGenerator.generateId``."""
    return hashlib.sha1(health_url.encode("utf-8")).hexdigest()[:12]


class RegistrationServer:
    """SBA's registration API as an ASGI app (``.app``), recording what clients send.

    ``registered`` holds the current registrations by id; ``requests`` every request as
    ``(method, path, authorization header, JSON body or None)``.
    """

    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self.credentials = (
            None
            if username is None
            else "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        )
        self.registered: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str | None, Any]] = []
        self.app = Starlette(
            routes=[
                Route("/instances", self._register, methods=["POST"]),
                Route("/instances", self._list, methods=["GET"]),
                Route("/instances/{id}", self._deregister, methods=["DELETE"]),
            ]
        )

    def count(self, method: str) -> int:
        return sum(1 for r in self.requests if r[0] == method)

    def _refused(self, request: Request) -> Response | None:
        if (
            self.credentials is not None
            and request.headers.get("authorization") != self.credentials
        ):
            return JSONResponse(
                {"status": 401, "error": "Unauthorized", "path": request.url.path},
                401,
                headers={"www-authenticate": 'Basic realm="Realm"'},
            )
        return None

    async def _register(self, request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        self.requests.append(("POST", request.url.path, request.headers.get("authorization"), body))
        refused = self._refused(request)
        if refused is not None:
            return refused
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return JSONResponse({"status": 415, "error": "Unsupported Media Type"}, 415)
        if not isinstance(body, dict):
            return JSONResponse({"status": 400, "error": "Bad Request"}, 400)

        def text(*keys: str) -> str | None:
            for key in keys:
                if body.get(key) is not None:
                    return str(body[key])
            return None

        name = text("name")
        if body.get("url") is not None:
            management: str | None = str(body["url"])
            health: str | None = str(body["url"]).rstrip("/") + "/health"
            service = None
        else:
            health = text("healthUrl", "health_url")
            management = text("managementUrl", "management_url")
            service = text("serviceUrl", "service_url")
        problem = None
        if not name:
            problem = "'name' must not be empty."
        elif not health:
            problem = "'healthUrl' must not be empty."
        else:
            for field, url in (("healthUrl", health), ("managementUrl", management)):
                if url and not urlsplit(url).scheme:
                    problem = f"'{field}' is not valid: {url}"
            if service and not urlsplit(service).scheme:
                problem = f"'serviceUrl' is not valid: {service}"
        if problem is not None:
            return JSONResponse({"status": 400, "error": "Bad Request", "message": problem}, 400)
        assert health is not None
        metadata = {str(k): str(v) for k, v in (body.get("metadata") or {}).items()}
        instance_id = sba_instance_id(health)
        self.registered[instance_id] = {
            "name": name,
            "healthUrl": health,
            "managementUrl": management,
            "serviceUrl": service,
            "metadata": metadata,
        }
        location = f"{str(request.url).rstrip('/')}/{instance_id}"
        return JSONResponse({"id": instance_id}, 201, headers={"location": location})

    async def _list(self, request: Request) -> Response:
        return JSONResponse([{"id": k, "registration": v} for k, v in self.registered.items()])

    async def _deregister(self, request: Request) -> Response:
        self.requests.append(
            ("DELETE", request.url.path, request.headers.get("authorization"), None)
        )
        refused = self._refused(request)
        if refused is not None:
            return refused
        if self.registered.pop(request.path_params["id"], None) is None:
            return Response(status_code=404)
        return Response(status_code=204)
