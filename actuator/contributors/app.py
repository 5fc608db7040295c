"""The ``app`` info section: name, version and description."""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

from actuator.settings import AppInfoSettings

logger = logging.getLogger("actuator.info")


def resolve_app_info(
    settings: AppInfoSettings, name: str | None, version: str | None, description: str | None
) -> dict[str, Any]:
    """Values from code win, then settings, then the installed distribution's metadata."""
    meta: dict[str, str] = {}
    if settings.distribution:
        try:
            metadata = importlib.metadata.metadata(settings.distribution)
        except importlib.metadata.PackageNotFoundError:
            logger.warning("info.app.distribution %r is not installed", settings.distribution)
        else:
            meta = {"name": metadata["Name"], "version": metadata["Version"],
                    "description": metadata["Summary"] or ""}
    info = {
        "name": name or settings.name or meta.get("name"),
        "version": version or settings.version or meta.get("version"),
        "description": description or settings.description or meta.get("description"),
    }
    return {key: value for key, value in info.items() if value}


class AppInfoContributor:
    """``{"name": "orders", "version": "1.4.2", "description": "..."}``."""

    def __init__(self, info: Any) -> None:
        self._info = info

    def contribute(self) -> dict[str, Any]:
        return dict(self._info())
