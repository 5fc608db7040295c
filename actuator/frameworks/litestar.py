"""Litestar: its routes for ``/mappings``, and the template of a request to a mounted ASGI app.

Litestar's router leaves the matched route's template in ``scope["path_template"]``
(``/items/{item_id}``: the route's ``path_format``, converters left out, router
prefixes included). For a request to a mounted ASGI app (``@asgi(..., is_mount=True)``)
it leaves an empty string: ``mount_template`` finds the mount's path instead.
"""

from __future__ import annotations

import functools
from typing import Any

from litestar import Litestar
from litestar.handlers import ASGIRouteHandler
from litestar.routes import ASGIRoute, HTTPRoute, WebSocketRoute

from actuator.frameworks import FrameworkRoute


def routes(app: Litestar) -> list[FrameworkRoute]:
    """One entry per route handler (the OPTIONS handler Litestar adds to each route left out)."""
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            found += [
                FrameworkRoute(
                    "http", route.path, sorted(handler.http_methods), handler.name, _fn(handler)
                )
                for handler in route.route_handlers
                if not _added_options(handler)
            ]
        elif isinstance(route, WebSocketRoute):
            socket = route.route_handler
            found.append(FrameworkRoute("websocket", route.path, [], socket.name, _fn(socket)))
        elif isinstance(route, ASGIRoute):
            asgi = route.route_handler
            kind = "mount" if asgi.is_mount else "http"
            found.append(FrameworkRoute(kind, route.path, ["*"], asgi.name, _fn(asgi)))
    return found


def mount_template(scope: Any) -> str | None:
    """``/static/{path}`` for a request Litestar handed to the ASGI app mounted at ``/static``."""
    handler, app = scope.get("route_handler"), scope.get("app")
    if not isinstance(handler, ASGIRouteHandler) or not isinstance(app, Litestar):
        return None
    return _mount_path(app, handler)


@functools.lru_cache(maxsize=256)
def _mount_path(app: Litestar, handler: ASGIRouteHandler) -> str | None:
    for route in app.routes:
        if isinstance(route, ASGIRoute) and route.route_handler is handler:
            return route.path.rstrip("/") + "/{path}"
    return None


def _fn(handler: Any) -> object:
    return getattr(handler, "fn", handler)


def _added_options(handler: Any) -> bool:
    return getattr(_fn(handler), "__qualname__", "").startswith("HTTPRoute.create_options_handler")
