"""Mapping a health status to an HTTP status code."""

from __future__ import annotations

from collections.abc import Mapping

from actuator.health.status import Status

DEFAULT_MAPPING: Mapping[str, int] = {"DOWN": 503, "OUT_OF_SERVICE": 503, "INIT": 503}


class HttpCodeStatusMapper:
    """Chooses the HTTP status code for a health status.

    ``DOWN``, ``OUT_OF_SERVICE`` and ``INIT`` answer 503; every other status
    answers 200. Entries given here are laid over those defaults::

        HttpCodeStatusMapper({"DEGRADED": 200, "OUT_OF_SERVICE": 200})

    Parameters:
        mapping: status code -> HTTP status code (100 to 599).
    """

    def __init__(self, mapping: Mapping[str, int] | None = None) -> None:
        merged = dict(DEFAULT_MAPPING)
        for code, http_status in (mapping or {}).items():
            if isinstance(http_status, bool) or not isinstance(http_status, int):
                raise TypeError(f"http_mapping[{code!r}] must be an int, got {http_status!r}")
            if not 100 <= http_status <= 599:
                raise ValueError(f"http_mapping[{code!r}] must be 100..599, got {http_status}")
            merged[Status(code).code] = http_status
        self.mapping: Mapping[str, int] = merged

    def status_code(self, status: Status) -> int:
        return self.mapping.get(status.code, 200)
