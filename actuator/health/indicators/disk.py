"""The disk space indicator: DOWN when free space falls below a threshold."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import ByteSize, TypeAdapter, ValidationError

from actuator.health.result import Health

_BYTE_SIZE: TypeAdapter[ByteSize] = TypeAdapter(ByteSize)


def parse_byte_size(name: str, value: object) -> int:
    """Bytes from an int or a size string (``"500MB"``, ``"1GiB"``), or ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(
            f"{name} must be a number of bytes or a size such as '500MB', got {value!r}"
        )
    try:
        size = int(_BYTE_SIZE.validate_python(value))
    except ValidationError:
        raise ValueError(
            f"{name} must be a number of bytes or a size such as '500MB', got {value!r}"
        ) from None
    if size < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return size


class DiskSpaceIndicator:
    """Free space on the file system that holds ``path``, as Spring Boot's ``diskSpace``.

    DOWN when fewer than ``threshold`` bytes are free to the app, or when
    ``path`` does not exist (a missing volume mount). Details, always the same
    keys: ``total`` and ``free`` in bytes (0 when the path is missing),
    ``threshold`` in bytes, ``path`` (absolute) and ``exists``::

        actuator.add_indicator("dataDisk", DiskSpaceIndicator("/var/lib/orders",
                                                              threshold="500MB"))

    ``free`` counts the space an unprivileged process may use (``statvfs``
    ``f_bavail``), which is what the app can really write.

    Parameters:
        path: any path on the file system to watch. Default ``"."`` (the
            working directory).
        threshold: minimum free space: bytes, or a size string such as
            ``"500MB"`` (10**6) or ``"1GiB"`` (2**30). Default 10 MiB, as Spring Boot.
    """

    def __init__(
        self, path: str | os.PathLike[str] = ".", *, threshold: int | str = 10 * 1024 * 1024
    ) -> None:
        if not isinstance(path, (str, os.PathLike)) or not str(path):
            raise TypeError(f"DiskSpaceIndicator path must be a non-empty path, got {path!r}")
        self.path = Path(path)
        self.threshold = parse_byte_size("DiskSpaceIndicator threshold", threshold)

    def health(self) -> Health:
        path = self.path.absolute()
        try:
            usage = shutil.disk_usage(path)
        except FileNotFoundError:
            return self._answer(path, total=0, free=0, exists=False)
        return self._answer(path, total=usage.total, free=usage.free, exists=True)

    def _answer(self, path: Path, *, total: int, free: int, exists: bool) -> Health:
        details = {
            "total": total,
            "free": free,
            "threshold": self.threshold,
            "path": str(path),
            "exists": exists,
        }
        if exists and free >= self.threshold:
            return Health.up(**details)
        return Health.down(**details)
