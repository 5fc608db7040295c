"""The ``build`` and ``git`` info sections, from the build-info file and settings."""

from __future__ import annotations

from typing import Any

from actuator.buildinfo import read_build_file, spring_git
from actuator.settings import InfoSettings


class BuildInfoContributor:
    """``{"name", "version", "artifact", "group", "time"}`` from the build-info file,
    overridden by ``ACTUATOR_INFO__BUILD__*``. Left out when there is nothing."""

    def __init__(self, settings: InfoSettings) -> None:
        self.settings = settings

    def contribute(self) -> dict[str, Any] | None:
        data = read_build_file(self.settings.build_file).get("build") or {}
        return {**data, **self.settings.build} or None


class GitInfoContributor:
    """``{"branch", "commit": {"id", "full", "time", "message"}, "tag", "dirty"}``,
    from the build-info file, overridden by ``ACTUATOR_INFO__GIT__*``
    (``branch``, ``commit``, ``commit_time``, ``commit_message``, ``tag``, ``dirty``)."""

    def __init__(self, settings: InfoSettings) -> None:
        self.settings = settings

    def contribute(self) -> dict[str, Any] | None:
        data = read_build_file(self.settings.build_file).get("git") or {}
        return spring_git({**data, **self.settings.git}) or None
