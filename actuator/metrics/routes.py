"""The route template of a request (``/items/{item_id}``), from what the router left in the scope.

Starlette's router stores the route it matched in ``scope["route"]`` (and its
endpoint in ``scope["endpoint"]``) and, for each ``Mount`` it enters, appends
the matched prefix to ``scope["root_path"]``. FastAPI's ``include_router``
keeps the prefixed template of an included route in its own scope entry. So
the template costs a few lookups after the response, not a second pass over
every route per request. What needs a walk over the routes is cached: mount
prefixes turned back into templates (``/tenants/{tenant}``), and the routes
of endpoints that FastAPI's router dispatches without setting ``scope["route"]``
(plain Starlette routes and mounts on a FastAPI app).

Other frameworks leave the template as a string in ``scope["path_template"]``
(Litestar's router itself, Django and Quart through the hooks in
``actuator.frameworks``): it is taken as it is, made absolute.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from starlette.routing import Host, Mount
from starlette.types import Scope

from actuator.frameworks import PATH_TEMPLATE

NOT_FOUND = "NOT_FOUND"
REDIRECTION = "REDIRECTION"
UNKNOWN = "UNKNOWN"

_MAX_CACHED = 1024


def relative_path(scope: Scope) -> str:
    """The request path below ``root_path``, as routers match it."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :]
    return path


def unmatched_uri(status: int | None) -> str:
    """The fixed ``uri`` of a request that matched no route (Micrometer's values)."""
    if status == 404:
        return NOT_FOUND
    if status is not None and 300 <= status < 400:
        return REDIRECTION
    return UNKNOWN


class RouteTemplates:
    """Resolves the route template of finished requests; one per instrumented app."""

    def __init__(self) -> None:
        self._prefixes: dict[tuple[int, str], str] = {}
        self._endpoints: dict[int, tuple[object, list[Any]]] = {}
        # Routes are long-lived: each resolves once (the tuple pins the object,
        # so a recycled id never hits a stale entry).
        self._paths: dict[int, tuple[object, str | None]] = {}

    def template(self, scope: Scope, entry_root_path: str, status: int | None) -> str:
        """The template of the route that served ``scope``, or a fixed value.

        ``entry_root_path`` is ``scope["root_path"]`` as the middleware saw it
        before the app ran: anything the app's mounts added after it is a prefix
        the template must include; what the server or a proxy set is not.
        """
        path = scope.get(PATH_TEMPLATE)
        if isinstance(path, str):
            path = _absolute(path) if path else _litestar_mount(scope)
        else:
            path = self._route_path(scope)
        if path is None:
            return unmatched_uri(status)
        if path == UNKNOWN:
            return UNKNOWN
        root_path = scope.get("root_path", "")
        if root_path == entry_root_path:
            return path
        prefix = root_path[len(entry_root_path) :] if root_path.startswith(entry_root_path) else ""
        return self._prefix_template(scope, prefix) + path

    def _route_path(self, scope: Scope) -> str | None:
        """The template of the Starlette route in the scope (``None``: none matched)."""
        route = scope.get("route") or self._route_of_endpoint(scope)
        if route is None:
            return None
        owner = route
        fastapi = scope.get("fastapi")
        if fastapi:
            context = fastapi.get("effective_route_context")
            if context is not None and getattr(context, "original_route", None) is route:
                owner = context  # one per included route: it knows the prefixed template
        cached = self._paths.get(id(owner))
        if cached is None or cached[0] is not owner:
            cached = self._paths[id(owner)] = (owner, _path_of(route, owner))
        return cached[1]

    def _prefix_template(self, scope: Scope, prefix: str) -> str:
        router = scope.get("router")
        key = (id(router), prefix)
        template = self._prefixes.get(key)
        if template is None:
            routes = getattr(router, "routes", None) or ()
            template = _mount_template(routes, prefix)
            if template is None:
                template = _replace_params(prefix, scope.get("path_params", {}))
            if len(self._prefixes) >= _MAX_CACHED:
                self._prefixes.clear()
            self._prefixes[key] = template
        return template

    def _route_of_endpoint(self, scope: Scope) -> Any:
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return None
        context = _fastapi_context(scope)
        if context is not None and getattr(context.original_route, "endpoint", None) is endpoint:
            return context.original_route
        cached = self._endpoints.get(id(endpoint))
        if cached is None or cached[0] is not endpoint:
            routes = getattr(scope.get("router"), "routes", None) or ()
            if len(self._endpoints) >= _MAX_CACHED:
                self._endpoints.clear()
            cached = self._endpoints[id(endpoint)] = (endpoint, _routes_of(routes, endpoint))
        candidates = cached[1]
        if len(candidates) <= 1:
            return candidates[0] if candidates else None
        # One endpoint behind several routes: the one whose pattern fits the path.
        path = relative_path(scope)
        return next(
            (
                route
                for route in candidates
                if not isinstance(route, Mount) and route.path_regex.match(path)
            ),
            candidates[0],
        )


def _absolute(template: str) -> str:
    # A uri that does not start with "/" is taken for a fixed value and escapes max_uri_tags.
    return template if template.startswith("/") else "/" + template


def _litestar_mount(scope: Scope) -> str | None:
    """Litestar leaves an empty template for a request to a mounted ASGI app."""
    from actuator.frameworks import litestar

    return litestar.mount_template(scope) if "litestar" in sys.modules else None


def _fastapi_context(scope: Scope) -> Any:
    # Recent FastAPI serves included routes through a context that holds the
    # prefixed template, while scope["route"] is the route as declared.
    fastapi = scope.get("fastapi")
    if not fastapi:
        return None
    context = fastapi.get("effective_route_context")
    return context if hasattr(context, "original_route") else None


def _path_of(route: Any, owner: Any) -> str | None:
    """The template path of a route (``None``: a mount where nothing matched inside)."""
    if isinstance(route, (Mount, Host)):
        # The router stopped at a mount: either the mounted app is not a router
        # (static files, a bare ASGI app) or nothing inside it matched.
        return None if route.routes else "/{path}"
    if owner is not route:
        path = getattr(owner, "path_format", None)
        if isinstance(path, str) and path:
            return path
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else UNKNOWN


def _routes_of(routes: Iterable[Any], endpoint: object) -> list[Any]:
    """Every route, at any depth of mounts, that dispatches to ``endpoint``."""
    found = []
    for route in routes:
        if isinstance(route, Mount):
            if route.app is endpoint:
                found.append(route)
            found += _routes_of(route.routes, endpoint)
        elif isinstance(route, Host):
            found += _routes_of(route.routes, endpoint)
        elif getattr(route, "endpoint", None) is endpoint:
            found.append(route)
    return found


def _mount_template(routes: Iterable[Any], prefix: str) -> str | None:
    """The template of the mounts that consumed ``prefix``, as the router matched them."""
    if not prefix:
        return ""
    for route in routes:
        if isinstance(route, Mount):
            match = route.path_regex.match(prefix + "/")
            if match is None:
                continue
            remaining = "/" + match.group("path")
            consumed = len(prefix) + 1 - len(remaining)
            rest = _mount_template(route.routes, prefix[consumed:])
            if rest is not None:
                return route.path_format[: -len("/{path}")] + rest
        elif isinstance(route, Host):
            found = _mount_template(route.routes, prefix)
            if found is not None:
                return found
    return None


def _replace_params(prefix: str, path_params: Mapping[str, Any]) -> str:
    """A last resort for mounts the walk cannot see: put parameter names back."""
    values = {str(value): name for name, value in path_params.items()}
    return "/".join(
        f"{{{values[segment]}}}" if segment in values else segment for segment in prefix.split("/")
    )
