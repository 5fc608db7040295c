"""The mappings endpoint: the host app's routes, across routers, mounts and hosts."""

from __future__ import annotations

import collections
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from starlette.endpoints import HTTPEndpoint
from starlette.routing import BaseRoute, Host, Mount, Route, Router, WebSocketRoute

from actuator.endpoints.base import Endpoint, OperationRequest

_WRAPPER_ATTRIBUTES = ("app", "_app", "application", "wrapped", "__wrapped__")
_MAX_WRAPPERS = 64
_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class MappingsEndpoint(Endpoint):
    """``GET /mappings``: every route of the app the actuator middleware wraps.

    ::

        {"routes": [{"kind": "http", "path": "/orders/{order_id:int}", "methods": ["GET", "HEAD"],
                     "name": "get_order", "handler": "shop.api.get_order"},
                    {"kind": "websocket", "path": "/ws", "name": "feed",
                     "handler": "shop.api.feed"},
                    {"kind": "mount", "path": "/static", "name": "static",
                     "handler": "starlette.staticfiles.StaticFiles"}]}

    Routes of FastAPI routers and of Starlette ``Mount``/``Host`` sub-apps are
    listed with their full path; a mount of an app without routes (static
    files, a bare ASGI app) is one ``mount`` entry. The router is found
    through any middleware that keeps the next app as ``.app``. A bare ASGI
    app has no routing table: it shows as one ``mount`` at ``/``.
    ``methods: ["*"]`` means any method.
    """

    name: ClassVar[str] = "mappings"
    max_path: ClassVar[int | None] = 0

    def __init__(self, host_app: Callable[[], object | None]) -> None:
        self.host_app = host_app

    async def read(self, request: OperationRequest) -> dict[str, Any]:
        app = self.host_app()
        if app is None:  # a standalone actuator: no app behind it
            return {"routes": []}
        return {"routes": app_routes(app)}


def app_routes(app: object) -> list[dict[str, Any]]:
    """The routes of an ASGI app, looking through middleware to its router."""
    routes = find_routes(app)
    if routes is None:
        return [{"kind": "mount", "path": "/", "name": None, "handler": handler_name(app)}]
    return list(_describe(routes, prefix="", host=None))


def find_routes(app: object) -> list[BaseRoute] | None:
    """The route list of the first router reachable from ``app``, or ``None``."""
    queue: collections.deque[object] = collections.deque([app])
    seen: set[int] = set()
    while queue and len(seen) < _MAX_WRAPPERS:
        obj = queue.popleft()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Router):
            return list(obj.routes)
        router = _attribute(obj, "router")
        if isinstance(router, Router):
            return list(router.routes)
        queue.extend(_attribute(obj, attr) for attr in _WRAPPER_ATTRIBUTES)
    return None


def _attribute(obj: object, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # a property that fails is simply not a way through
        return None


def _describe(
    routes: Iterable[BaseRoute], prefix: str, host: str | None
) -> Iterable[dict[str, Any]]:
    for route in routes:
        extra = {"host": host} if host else {}
        if isinstance(route, Route):
            yield {"kind": "http", "path": prefix + route.path, "methods": _methods(route),
                   "name": route.name, "handler": handler_name(route.endpoint), **extra}
        elif isinstance(route, WebSocketRoute):
            yield {"kind": "websocket", "path": prefix + route.path, "name": route.name,
                   "handler": handler_name(route.endpoint), **extra}
        elif isinstance(route, Mount):
            inner = find_routes(route.app)
            if inner is None:
                yield {"kind": "mount", "path": prefix + route.path or "/", "name": route.name,
                       "handler": handler_name(route.app), **extra}
            else:
                yield from _describe(inner, prefix + route.path, host)
        elif isinstance(route, Host):
            inner = find_routes(route.app)
            if inner is None:
                yield {"kind": "mount", "path": prefix or "/", "name": route.name,
                       "handler": handler_name(route.app), "host": route.host}
            else:
                yield from _describe(inner, prefix, route.host)
        elif callable(_attribute(route, "effective_route_contexts")):
            # A router included by newer FastAPI versions, which no longer copies its routes.
            for context in route.effective_route_contexts():  # type: ignore[attr-defined]
                inner = _attribute(context, "starlette_route")
                if isinstance(inner, BaseRoute):
                    yield from _describe([inner], prefix, host)
                else:
                    yield {"kind": "http", "path": prefix + str(context.path),
                           "methods": sorted(context.methods or ["*"]), "name": context.name,
                           "handler": handler_name(context.endpoint), **extra}
        else:
            yield {"kind": type(route).__name__, "path": prefix + str(_attribute(route, "path")),
                   "name": _attribute(route, "name"), "handler": None, **extra}


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
    target = obj if inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isclass(obj) \
        else type(obj)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None) or repr(target)
    return f"{module}.{qualname}" if module else qualname
