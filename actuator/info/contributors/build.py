"""The ``build`` and ``git`` info sections, from the build-info file and settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from actuator.info.buildinfo import build_file_section, spring_git
from actuator.settings import InfoSettings


class BuildInfoContributor:
    """``{"name", "version", "artifact", "group", "time"}`` from the build-info file
    (``info.build_file``), each value overridden by ``ACTUATOR_INFO__BUILD__<KEY>``
    (``info.build``). Left out when there is nothing. The file is read on each
    request, so a file written after start-up shows; a malformed one fills this
    section with an error and the rest of info still answers.

    ``name`` and ``version`` default to the app's (``app_info``), since Spring
    Boot Admin shows the version from ``build.version``."""

    def __init__(
        self, settings: InfoSettings, app_info: Callable[[], Mapping[str, Any]] | None = None
    ) -> None:
        self.settings = settings
        self._app_info = app_info

    def contribute(self) -> dict[str, Any] | None:
        data = build_file_section(self.settings.build_file, "build")
        app = self._app_info() if self._app_info is not None else {}
        defaults = {key: app[key] for key in ("name", "version") if app.get(key)}
        return {**defaults, **data, **self.settings.build} or None


class GitInfoContributor:
    """Spring Boot's ``info.git`` shape: ``{"branch", "commit": {"id", "full", "time",
    "message"}, "tag", "dirty"}``, from the build-info file, each value overridden by
    ``ACTUATOR_INFO__GIT__<KEY>`` (``branch``, ``commit``, ``commit_time``,
    ``commit_message``, ``tag``, ``dirty``). Left out when there is nothing."""

    def __init__(self, settings: InfoSettings) -> None:
        self.settings = settings

    def contribute(self) -> dict[str, Any] | None:
        data = build_file_section(self.settings.build_file, "git")
        return spring_git({**data, **self.settings.git}) or None
