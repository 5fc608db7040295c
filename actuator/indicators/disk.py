"""The disk space indicator: DOWN when free space falls below a threshold."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from actuator.health import Health


class DiskSpaceIndicator:
    """Free space on the file system holding ``path``.

    Details (as Spring Boot's ``diskSpace``): ``total`` and ``free`` in bytes,
    ``threshold``, ``path`` and ``exists``. DOWN when ``free < threshold`` or
    the path does not exist::

        actuator.add_indicator("data", DiskSpaceIndicator("/var/lib/orders",
                                                          threshold=500 * 1024**2))

    Parameters:
        path: any path on the file system to watch. Default ``"."``.
        threshold: minimum free bytes. Default 10 MiB.
    """

    def __init__(self, path: str | os.PathLike[str] = ".", *, threshold: int = 10 * 1024 * 1024,
                 ) -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 0:
            raise ValueError(f"threshold must be a non-negative number of bytes, got {threshold!r}")
        self.path = Path(path)
        self.threshold = threshold

    def health(self) -> Health:
        path = self.path.absolute()
        if not path.exists():
            return Health.down(path=str(path), exists=False, threshold=self.threshold)
        usage = shutil.disk_usage(path)
        details = {
            "total": usage.total,
            "free": usage.free,
            "threshold": self.threshold,
            "path": str(path),
            "exists": True,
        }
        if usage.free < self.threshold:
            return Health.down(**details)
        return Health.up(**details)
