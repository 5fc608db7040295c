"""Quart: its routes for ``/mappings``, and its route templates in the scope for the metrics.

Quart matches a request to a ``url_rule`` (``/items/<int:item_id>``) on the
request object, which the middleware in front of the app never sees; but the
request keeps the very scope dict the server passed. ``instrument`` connects
a receiver to Quart's ``request_started`` signal (sent once the rule is
matched, before ``before_request`` functions run) that copies the rule into
``scope["path_template"]`` (for a 405, the rule whose path matched). The
receiver is a coroutine: Quart would run a plain function in a thread.
"""

from __future__ import annotations

from typing import Any, cast

from quart import Quart, request
from quart.signals import request_started
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import Rule

from actuator.frameworks import PATH_TEMPLATE, FrameworkRoute


def instrument(app: Quart) -> None:
    """Copy each request's rule into its scope (connecting twice is connecting once)."""
    request_started.connect(_record_rule, sender=app, weak=False)


async def _record_rule(sender: Quart, **_: object) -> None:
    rule = request.url_rule or _rule_refusing_the_method(sender)
    if rule is not None:
        cast("dict[str, Any]", request.scope)[PATH_TEMPLATE] = rule.rule


def _rule_refusing_the_method(app: Quart) -> Rule | None:
    """The rule a 405 matched: werkzeug names the methods it allows, not the rule, so the
    path is matched again with one of them (only for 405s)."""
    error = request.routing_exception
    allowed = list(error.valid_methods or ()) if isinstance(error, MethodNotAllowed) else []
    if not allowed:
        return None
    adapter = app.create_url_adapter(request)
    if adapter is None:
        return None
    try:
        rule, _ = adapter.match(method=allowed[0], return_rule=True)
    except HTTPException:
        return None
    return rule if isinstance(rule, Rule) else None


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
