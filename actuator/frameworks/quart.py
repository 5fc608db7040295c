"""Quart: its routes for ``/mappings``, and its route templates in the scope for the metrics.

Quart matches a request to a ``url_rule`` (``/items/<int:item_id>``) on the
request object, which the middleware in front of the app never sees; but the
request keeps the very scope dict the server passed. ``instrument`` connects
a receiver to Quart's ``request_started`` signal (sent once the rule is
matched, before ``before_request`` functions run) that copies the rule into
``scope["path_template"]``. The receiver is a coroutine: Quart would run a
plain function in a thread.
"""

from __future__ import annotations

from typing import Any, cast

from quart import Quart, request
from quart.signals import request_started

from actuator.frameworks import PATH_TEMPLATE, FrameworkRoute


def instrument(app: Quart) -> None:
    """Copy each request's rule into its scope (connecting twice is connecting once)."""
    request_started.connect(_record_rule, sender=app, weak=False)


async def _record_rule(sender: Quart, **_: object) -> None:
    rule = request.url_rule
    if rule is not None:
        cast("dict[str, Any]", request.scope)[PATH_TEMPLATE] = rule.rule


def routes(app: Quart) -> list[FrameworkRoute]:
    """One entry per URL rule, with the view function it dispatches to."""
    return [
        FrameworkRoute(
            "websocket" if rule.websocket else "http",
            rule.rule,
            [] if rule.websocket else sorted(rule.methods or ["*"]),
            rule.endpoint,
            app.view_functions.get(rule.endpoint),
        )
        for rule in app.url_map.iter_rules()
    ]
