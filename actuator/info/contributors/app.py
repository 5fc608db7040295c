"""The ``app`` info section: name, version and description."""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable, Mapping
from typing import Any

from actuator.settings import AppInfoSettings

logger = logging.getLogger("actuator.info")


def distribution_info(distribution: str) -> dict[str, str]:
    """Name, version and summary of an installed distribution; ``{}`` (and a warning) if
    it is not installed."""
    try:
        metadata = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError:
        logger.warning(
            "info.app.distribution %r is not installed; the app section of info "
            "shows only what code and settings give",
            distribution,
        )
        return {}
    found = {
        "name": metadata["Name"],
        "version": metadata["Version"],
        "description": metadata["Summary"],
    }
    return {key: value for key, value in found.items() if value and value != "UNKNOWN"}


def resolve_app_info(
    settings: AppInfoSettings, name: str | None, version: str | None, description: str | None
) -> dict[str, Any]:
    """Each value from code, else from settings, else from the installed distribution's metadata
    (looked up only when something is still missing)."""
    info = {
        "name": name or settings.name,
        "version": version or settings.version,
        "description": description or settings.description,
    }
    if settings.distribution and not all(info.values()):
        meta = distribution_info(settings.distribution)
        info = {key: value or meta.get(key) for key, value in info.items()}
    return {key: value for key, value in info.items() if value}


class AppInfoContributor:
    """``{"name": "orders", "version": "1.4.2", "description": "..."}``.

    ``resolve`` gives the values (``Actuator.app_info``, which caches them). It
    is called at start-up too, so an unknown ``info.app.distribution`` is
    reported then rather than at the first request.
    """

    def __init__(self, resolve: Callable[[], Mapping[str, Any]]) -> None:
        self._resolve = resolve

    def start(self) -> None:
        self._resolve()

    def contribute(self) -> dict[str, Any]:
        return dict(self._resolve())
