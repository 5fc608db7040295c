"""Built-in info contributors: app, build, git, python, os, process."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actuator.info.contributors.app import AppInfoContributor
from actuator.info.contributors.build import BuildInfoContributor, GitInfoContributor
from actuator.info.contributors.runtime import ProcessInfoContributor, os_info, python_info

if TYPE_CHECKING:
    from actuator.core import Actuator

__all__ = [
    "AppInfoContributor",
    "BuildInfoContributor",
    "GitInfoContributor",
    "ProcessInfoContributor",
    "builtin_contributors",
    "os_info",
    "python_info",
]


def builtin_contributors(actuator: Actuator) -> dict[str, Any]:
    info = actuator.settings.info
    return {
        "app": AppInfoContributor(lambda: actuator.app_info),
        "build": BuildInfoContributor(info, lambda: actuator.app_info),
        "git": GitInfoContributor(info),
        "python": python_info,
        "os": os_info,
        "process": ProcessInfoContributor(),
    }
