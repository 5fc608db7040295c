"""``application_info``: the application's name, version and git commit as labels of a constant 1.

::

    application_info{name="orders",version="1.4.2",commit="3f2a9c1"} 1.0

Join it to other series by ``instance`` to show versions on a dashboard, or
count it by ``version`` to follow a rollout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from prometheus_client.core import InfoMetricFamily, Metric

from actuator.info.buildinfo import read_build_file

if TYPE_CHECKING:
    from actuator.settings import InfoSettings

logger = logging.getLogger("actuator.metrics")

NAME = "application"


class InfoCollector:
    """A prometheus-client collector for ``application_info``; reads the build file once."""

    def __init__(self, settings: InfoSettings, app_info: Callable[[], Mapping[str, Any]]) -> None:
        self.settings = settings
        self.app_info = app_info
        self._labels: dict[str, str] | None = None

    def describe(self) -> Iterable[Metric]:
        return [InfoMetricFamily(NAME, "Application name, version and git commit")]

    def collect(self) -> Iterable[Metric]:
        if self._labels is None:
            app = self.app_info()
            self._labels = {
                "name": str(app.get("name", "")),
                "version": str(app.get("version", "")),
                "commit": self._commit(),
            }
        return [
            InfoMetricFamily(NAME, "Application name, version and git commit", value=self._labels)
        ]

    def _commit(self) -> str:
        info = self.settings
        commit = info.git.get("commit")
        if not commit:
            try:
                commit = (read_build_file(info.build_file).get("git") or {}).get("commit")
            except ValueError as exc:
                logger.warning("application_info has no commit: %s", exc)
        return str(commit or "")[:7]
