"""Built-in info contributors: app, build, git, python, os, process."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from actuator.info.contributors.app import AppInfoContributor
from actuator.info.contributors.build import BuildInfoContributor, GitInfoContributor
from actuator.info.contributors.runtime import ProcessInfoContributor, os_info, python_info

if TYPE_CHECKING:
    from actuator.settings import InfoSettings

__all__ = [
    "AppInfoContributor",
    "BuildInfoContributor",
    "GitInfoContributor",
    "ProcessInfoContributor",
    "builtin_contributors",
    "os_info",
    "python_info",
]


def builtin_contributors(
    info: InfoSettings, app_info: Callable[[], Mapping[str, Any]]
) -> dict[str, Any]:
    return {
        "app": AppInfoContributor(app_info),
        "build": BuildInfoContributor(info, app_info),
        "git": GitInfoContributor(info),
        "python": python_info,
        "os": os_info,
        "process": ProcessInfoContributor(),
    }
