"""The discovery page at the base path: Spring-style ``_links`` to every exposed endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actuator.endpoints.base import Endpoint


def discovery_links(
    endpoints: Iterable[Endpoint], base_url: str, visible: Callable[[str], bool] = lambda name: True
) -> dict[str, dict[str, object]]:
    """``{"self": {...}, "health": {...}, "health-path": {...}}``, as Spring Boot Admin reads it.

    Only endpoints for which ``visible(name)`` holds are listed: the caller's
    discovery page shows what the caller may read, nothing more.
    """
    links: dict[str, dict[str, object]] = {"self": {"href": base_url, "templated": False}}
    for endpoint in endpoints:
        if not visible(endpoint.name) or not endpoint.available():
            continue
        href = f"{base_url}/{endpoint.name}"
        links[endpoint.name] = {"href": href, "templated": False}
        if endpoint.selector:
            rel = f"{endpoint.name}-{endpoint.selector.lstrip('*')}"
            links[rel] = {"href": f"{href}/{{{endpoint.selector}}}", "templated": True}
    return links
