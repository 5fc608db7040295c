"""What the actuator knows of the frameworks beyond Starlette: their routes and route templates.

Starlette and FastAPI, which the core depends on, are read where the metrics
and the mappings endpoint need them (``actuator.metrics.routes``,
``actuator.endpoints.mappings``). Litestar, Django and Quart have one module
each here, imported only once the app is found to be of that framework (its
module is already in ``sys.modules``), so the actuator never imports a
framework the app does not use.

How each one's route template reaches the metrics' ``uri``: every one of them
leaves it as a string in ``scope["path_template"]``. Litestar's router does so
itself; for Django, ``actuator.frameworks.django.RouteTemplateMiddleware``
(listed in ``MIDDLEWARE``) copies ``request.resolver_match.route`` there; for
Quart, a ``request_started`` receiver that ``instrument`` connects copies
``request.url_rule.rule``.
"""

from __future__ import annotations

import collections
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from litestar import Litestar
    from quart import Quart

PATH_TEMPLATE = "path_template"

_WRAPPER_ATTRIBUTES = ("app", "_app", "application", "wrapped", "__wrapped__", "__self__")
_MAX_LAYERS = 64


class FrameworkRoute(NamedTuple):
    """One route of an app, as the mappings endpoint lists it."""

    kind: str  # "http", "websocket" or "mount"
    path: str
    methods: list[str]  # ["*"]: any
    name: str | None
    handler: object


def layers(app: object) -> Iterator[object]:
    """``app`` and what it wraps (``.app`` and the like, a bound method's object), nearest first."""
    queue: collections.deque[object] = collections.deque([app])
    seen: set[int] = set()
    while queue and len(seen) < _MAX_LAYERS:
        obj = queue.popleft()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        yield obj
        queue.extend(attribute(obj, name) for name in _WRAPPER_ATTRIBUTES)


def attribute(obj: object, name: str) -> object:
    """``getattr(obj, name, None)``, where a property that fails is simply absent."""
    try:
        return getattr(obj, name, None)
    except Exception:
        return None


def routes_of(obj: object) -> list[FrameworkRoute] | None:
    """The routes of a Litestar, Quart or Django app, or ``None`` when ``obj`` is none of them."""
    if _instance(obj, "litestar.app", "Litestar"):
        from actuator.frameworks import litestar

        return litestar.routes(cast("Litestar", obj))
    if _instance(obj, "quart.app", "Quart"):
        from actuator.frameworks import quart

        return quart.routes(cast("Quart", obj))
    if _instance(obj, "django.core.handlers.asgi", "ASGIHandler"):
        from actuator.frameworks import django

        return django.routes()
    return None


def instrument(app: object) -> None:
    """Prepare the framework behind ``app`` to leave its route templates in the scope."""
    for obj in layers(app):
        if _instance(obj, "quart.app", "Quart"):
            from actuator.frameworks import quart

            quart.instrument(cast("Quart", obj))
            return
        if _instance(obj, "django.core.handlers.asgi", "ASGIHandler"):
            from actuator.frameworks import django

            django.check_middleware()
            return


def _instance(obj: object, module: str, name: str) -> bool:
    """``isinstance(obj, module.name)``, without importing ``module`` when nothing has."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, name, None)
    return isinstance(cls, type) and isinstance(obj, cls)
