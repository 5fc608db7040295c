"""Django (its ASGI handler): the route-template middleware, and the URL patterns for ``/mappings``.

Django resolves a request's URL inside its handler, onto the request object
(``request.resolver_match.route``: ``items/<int:item_id>/``, the patterns of
``include()`` joined), which the ASGI middleware in front of the handler never
sees. Django's own extension point there is a middleware: list

    MIDDLEWARE = ["actuator.frameworks.django.RouteTemplateMiddleware", ...]

and it copies the route into ``scope["path_template"]`` (an ``ASGIRequest``
keeps the scope dict the server passed), as an absolute path
(``/items/<int:item_id>/``; a ``re_path`` pattern without its ``^`` and ``$``).
Without it every Django request counts as ``uri="UNKNOWN"``, and the actuator
says so once in the log.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from inspect import isclass
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.urls import URLPattern, URLResolver, get_resolver

from actuator.frameworks import PATH_TEMPLATE, FrameworkRoute

logger = logging.getLogger("actuator.metrics")

MIDDLEWARE = f"{__name__}.RouteTemplateMiddleware"


class RouteTemplateMiddleware:
    """Copies the route Django matched into the ASGI scope, for the metrics' ``uri`` label.

    Async and sync capable: under the ASGI handler it runs as a coroutine, without a
    thread hop. Its place in ``MIDDLEWARE`` does not matter: the route is read after
    the response, when Django has resolved it.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        response: HttpResponseBase = self.get_response(request)
        record_route(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        record_route(request)
        return response


def record_route(request: HttpRequest) -> None:
    """Put the request's resolved route in its ASGI scope (a WSGI request has none)."""
    match = request.resolver_match
    scope = getattr(request, "scope", None)
    if match is not None and isinstance(scope, dict):
        scope[PATH_TEMPLATE] = absolute(match.route)


def absolute(route: str) -> str:
    """A Django route as a path template: ``items/<int:pk>/`` -> ``/items/<int:pk>/``."""
    return "/" + route.removeprefix("^").removesuffix("$").removeprefix("/")


def check_middleware() -> None:
    """Say once, at start, when the route templates cannot reach the metrics."""
    if MIDDLEWARE not in getattr(settings, "MIDDLEWARE", ()):
        logger.warning(
            "Django's MIDDLEWARE lacks %r: HTTP metrics count every Django request as "
            "uri='UNKNOWN' (see docs/servers-and-frameworks.md)",
            MIDDLEWARE,
        )


def routes() -> list[FrameworkRoute]:
    """Every URL pattern of the root URLconf, with the prefixes of ``include()`` joined."""
    return list(_patterns(get_resolver().url_patterns, ""))


def _patterns(patterns: Iterable[Any], prefix: str) -> Iterable[FrameworkRoute]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern).removeprefix("^") if prefix else str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            view = pattern.callback
            view_class = getattr(view, "view_class", None)
            yield FrameworkRoute(
                "http", absolute(route), _methods(view_class), pattern.name, view_class or view
            )


def _methods(view_class: Any) -> list[str]:
    """A class-based view's methods (HEAD with GET, as ``View`` serves it); ``*`` otherwise."""
    if not isclass(view_class):
        return ["*"]
    methods: Iterable[str] = getattr(view_class, "http_method_names", ())
    names = {name for name in methods if hasattr(view_class, name)}
    if "get" in names:
        names.add("head")
    return sorted(name.upper() for name in names)
