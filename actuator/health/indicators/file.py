"""The file freshness indicator: UP while a file was modified recently enough."""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from actuator.health.result import Health


class FileFreshnessIndicator:
    """UP when ``path`` exists and was modified less than ``max_age`` seconds ago.

    For work that proves it is alive by touching a file: a cron job, a batch
    worker's heartbeat, a cache that a sidecar refreshes. Details: ``path``,
    ``exists``, ``ageSeconds``, ``maxAgeSeconds`` and ``modified`` (ISO 8601, UTC)::

        actuator.add_indicator("exporter", FileFreshnessIndicator("/tmp/heartbeat", max_age=60))

    Parameters:
        path: the file to watch.
        max_age: seconds after its last modification that the file counts as stale.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_age: float) -> None:
        if isinstance(max_age, bool) or not max_age > 0:
            raise ValueError(f"max_age must be > 0 seconds, got {max_age!r}")
        self.path = Path(path)
        self.max_age = max_age

    def health(self) -> Health:
        details: dict[str, object] = {"path": str(self.path), "maxAgeSeconds": self.max_age}
        try:
            modified = self.path.stat().st_mtime
        except FileNotFoundError:
            return Health.down("file does not exist", exists=False, **details)
        except OSError as exc:
            return Health.down(exc, exists=False, **details)
        age = max(0.0, time.time() - modified)
        details.update(
            exists=True,
            ageSeconds=round(age, 3),
            modified=datetime.datetime.fromtimestamp(modified, datetime.timezone.utc).isoformat(),
        )
        if age > self.max_age:
            return Health.down(
                f"file not modified for {age:.0f}s (max {self.max_age:g}s)", **details
            )
        return Health.up(**details)
