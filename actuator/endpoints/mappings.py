"""The mappings endpoint: the host app's routes, across routers, mounts and hosts."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.endpoints import HTTPEndpoint
from starlette.routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute

from actuator.endpoints.base import JSON_TYPES, Endpoint, OperationRequest
from actuator.frameworks import attribute, layers, routes_of

if TYPE_CHECKING:
    from actuator.endpoints.registry import EndpointRegistry

_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class MappingsEndpoint(Endpoint):
    """``GET /mappings``: the actuator's endpoints and every route of the app it wraps,
    in the shape of a reactive Spring app (which Spring Boot Admin's mappings view reads)::

        {"contexts": {"orders": {"parentId": null, "mappings": {"dispatcherHandlers": {
            "webHandler": [
                {"predicate": "{[GET, HEAD] [/orders/{order_id:int}]}",
                 "handler": "shop.api.get_order",
                 "details": {
                     "requestMappingConditions": {
                         "patterns": ["/orders/{order_id:int}"], "methods": ["GET", "HEAD"],
                         "consumes": [], "produces": [], "params": [], "headers": []},
                     "route": {"kind": "http", "path": "/orders/{order_id:int}",
                               "methods": ["GET", "HEAD"], "name": "get_order",
                               "handler": "shop.api.get_order"}}},
                ...]}}}}}

    The context is named after the app (``application`` without a name). The
    actuator's discovery page and endpoints come first (handler ``Actuator
    root web endpoint``, ``Actuator web endpoint 'health'``; ``produces`` the
    media types each offers), as Spring lists them; then the app's
    routes, each with ``details.route``: ``kind`` (``http``, ``websocket`` or
    ``mount``), ``path``, ``methods`` (``["*"]``: any), ``name``, ``handler``
    and ``host`` for routes under a Starlette ``Host``. A WebSocket route has
    the condition ``Upgrade: websocket``, a host route ``Host: <host>``, a
    mount the pattern ``<path>/**`` and no methods (any).

    Routes of FastAPI routers and of Starlette ``Mount``/``Host`` sub-apps are
    listed with their full path; a mount of an app without routes (static
    files, a bare ASGI app) is one ``mount`` entry. The router is found
    through any middleware that keeps the next app as ``.app``. A bare ASGI
    app has no routing table: it shows as one ``mount`` at ``/``.
    ``methods: ["*"]`` means any method.
    """

    name: ClassVar[str] = "mappings"
    max_path: ClassVar[int | None] = 0

    def __init__(
        self,
        host_app: Callable[[], object | None],
        endpoints: EndpointRegistry,
        base_path: str,
        app_info: Callable[[], Mapping[str, Any]],
    ) -> None:
        self.host_app = host_app
        self.endpoints = endpoints
        self.base_path = base_path
        self.app_info = app_info

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        app = self.host_app()
        routes = [] if app is None else app_routes(app)  # None: a standalone actuator
        base_path = self.base_path
        handlers = [
            _mapping(
                "Actuator root web endpoint",
                [base_path or "/"],
                ["GET", "HEAD"],
                produces=JSON_TYPES,
            ),
            *_endpoint_mappings(self.endpoints.all_exposed(), base_path),
            *(_route_mapping(route) for route in routes),
        ]
        context = str(self.app_info().get("name") or "application")
        return {
            "contexts": {
                context: {
                    "mappings": {"dispatcherHandlers": {"webHandler": handlers}},
                    "parentId": None,
                }
            }
        }


_ACTUATOR_METHODS: dict[str, list[str]] = {
    "read": ["GET", "HEAD"],
    "write": ["POST"],
    "delete": ["DELETE"],
}


def _endpoint_mappings(endpoints: Iterable[Endpoint], base_path: str) -> Iterable[dict[str, Any]]:
    """Spring's entries for the actuator's own endpoints, with and without their selector."""
    for endpoint in endpoints:
        paths: list[tuple[str, tuple[str, ...]]] = [(f"{base_path}/{endpoint.name}", ())]
        if endpoint.selector:
            paths.append((f"{base_path}/{endpoint.name}/{{{endpoint.selector}}}", ("x",)))
        for pattern, sample in paths:
            operations = endpoint.operations(sample)
            for operation in ("read", "write", "delete"):
                if operation not in operations:
                    continue
                methods = _ACTUATOR_METHODS[operation]
                produces = [] if operation == "delete" else list(endpoint.produces)
                yield _mapping(
                    f"Actuator web endpoint '{endpoint.name}'",
                    [pattern],
                    methods,
                    produces=produces,
                )


def _route_mapping(route: dict[str, Any]) -> dict[str, Any]:
    """Spring's entry for one of the app's routes, keeping the route as ``details.route``."""
    kind, path = route["kind"], route["path"]
    methods = [m for m in route.get("methods", []) if m != "*"]
    headers: list[dict[str, Any]] = []
    if kind == "websocket":
        headers.append({"name": "Upgrade", "value": "websocket", "negated": False})
    if route.get("host"):
        headers.append({"name": "Host", "value": route["host"], "negated": False})
    pattern = path if kind != "mount" else f"{path.rstrip('/')}/**"
    return _mapping(route.get("handler") or kind, [pattern], methods, headers=headers, route=route)


def _mapping(
    handler: str,
    patterns: list[str],
    methods: list[str],
    *,
    produces: Sequence[str] = (),
    headers: Sequence[Mapping[str, Any]] = (),
    route: dict[str, Any] | None = None,
) -> dict[str, Any]:
    conditions = {
        "patterns": patterns,
        "methods": methods,
        "consumes": [],
        "produces": [{"mediaType": media, "negated": False} for media in produces],
        "params": [],
        "headers": [dict(header) for header in headers],
    }
    details: dict[str, Any] = {"requestMappingConditions": conditions}
    if route is not None:
        details["route"] = route
    return {
        "predicate": _predicate(patterns, methods, produces, headers),
        "handler": handler,
        "details": details,
    }


def _predicate(
    patterns: list[str],
    methods: list[str],
    produces: Iterable[str],
    headers: Iterable[Mapping[str, Any]],
) -> str:
    """The text Spring's ``RequestMappingInfo`` prints: ``{GET [/orders], produces [a || b]}``."""
    parts = []
    if methods:
        parts.append(methods[0] if len(methods) == 1 else f"[{', '.join(methods)}]")
    parts.append(f"[{', '.join(patterns)}]")
    text = " ".join(parts)
    header_text = ", ".join(f"{h['name']}={h['value']}" for h in headers)
    if header_text:
        text += f", headers [{header_text}]"
    produced = " || ".join(produces)
    if produced:
        text += f", produces [{produced}]"
    return "{" + text + "}"


def app_routes(app: object) -> list[dict[str, Any]]:
    """The routes of an ASGI app, looking through middleware to its router."""
    return list(_describe_app(app, prefix="", host=None))


def _describe_app(
    app: object, prefix: str, host: str | None, name: str | None = None
) -> Iterable[dict[str, Any]]:
    """The routes of the first router reachable from ``app``: Starlette's (FastAPI's),
    Litestar's, Quart's or Django's; one ``mount`` entry for an app without any."""
    for obj in layers(app):
        routes = _starlette_routes(obj)
        if routes is not None:
            yield from _describe(routes, prefix, host)
            return
        framework_routes = routes_of(obj)
        if framework_routes is not None:
            extra = {"host": host} if host else {}
            for route in framework_routes:
                entry: dict[str, Any] = {"kind": route.kind, "path": prefix + route.path}
                if route.kind != "mount":
                    entry["methods"] = route.methods
                yield {**entry, "name": route.name, "handler": handler_name(route.handler), **extra}
            return
    yield {
        "kind": "mount",
        "path": prefix or "/",
        "name": name,
        "handler": handler_name(app),
        **({"host": host} if host else {}),
    }


def _starlette_routes(obj: object) -> list[BaseRoute] | None:
    if isinstance(obj, Router):
        return list(obj.routes)
    router = attribute(obj, "router")
    return list(router.routes) if isinstance(router, Router) else None


def _describe(
    routes: Iterable[BaseRoute], prefix: str, host: str | None
) -> Iterable[dict[str, Any]]:
    for route in routes:
        extra = {"host": host} if host else {}
        if isinstance(route, Route):
            yield {
                "kind": "http",
                "path": prefix + route.path,
                "methods": _methods(route),
                "name": route.name,
                "handler": handler_name(route.endpoint),
                **extra,
            }
        elif isinstance(route, WebSocketRoute):
            yield {
                "kind": "websocket",
                "path": prefix + route.path,
                "name": route.name,
                "handler": handler_name(route.endpoint),
                **extra,
            }
        elif isinstance(route, Mount):
            yield from _describe_app(route.app, prefix + route.path, host, route.name)
        elif isinstance(route, Host):
            yield from _describe_app(route.app, prefix, route.host, route.name)
        elif callable(attribute(route, "effective_route_contexts")):
            # A router included by newer FastAPI versions, which no longer copies its routes.
            for context in route.effective_route_contexts():  # type: ignore[attr-defined]
                inner = attribute(context, "starlette_route")
                if isinstance(inner, BaseRoute):
                    yield from _describe([inner], prefix, host)
                else:
                    yield {
                        "kind": "http",
                        "path": prefix + str(context.path),
                        "methods": sorted(context.methods or ["*"]),
                        "name": context.name,
                        "handler": handler_name(context.endpoint),
                        **extra,
                    }
        else:
            yield {
                "kind": type(route).__name__,
                "path": prefix + str(attribute(route, "path")),
                "name": attribute(route, "name"),
                "handler": None,
                **extra,
            }


def _methods(route: Route) -> list[str]:
    if route.methods:
        return sorted(route.methods)
    endpoint = route.endpoint
    if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint):
        methods = {m for m in _HTTP_METHODS if hasattr(endpoint, m.lower())}
        if "GET" in methods:
            methods.add("HEAD")
        return sorted(methods)
    return ["*"]


def handler_name(obj: object) -> str:
    """``module.qualname`` of a function, class or method; of its class for other objects."""
    while isinstance(obj, functools.partial):
        obj = obj.func
    target = (
        obj
        if inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isclass(obj)
        else type(obj)
    )
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or repr(target)
    return f"{module}.{qualname}" if module else qualname
