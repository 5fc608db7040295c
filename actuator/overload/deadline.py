"""The deadline a request carries, from its headers.

Three spellings are understood, the first present wins:

- ``X-Request-Timeout: 1.5`` and ``Request-Timeout: 1.5``: seconds, a
  positive decimal number (as Envoy's ``x-envoy-expected-rq-timeout-ms``
  but in seconds, the unit most HTTP clients configure);
- ``grpc-timeout: 250m``: the gRPC wire format, up to 8 digits then a unit
  (``H`` hours, ``M`` minutes, ``S`` seconds, ``m`` milliseconds, ``u``
  microseconds, ``n`` nanoseconds).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

DEADLINE_HEADERS = (b"x-request-timeout", b"request-timeout", b"grpc-timeout")

_GRPC = re.compile(r"([0-9]{1,8})([HMSmun])\Z")
_GRPC_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}
_SECONDS = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?\Z")


class BadDeadline(ValueError):
    """A deadline header that cannot be read; the message names the header."""


def request_deadline(headers: Iterable[tuple[bytes, bytes]]) -> float | None:
    """Seconds the caller will wait for the answer, or ``None`` when it did not say.

    Raises ``BadDeadline`` for a value that is not in the header's format or
    is not positive.
    """
    found: dict[bytes, bytes] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in DEADLINE_HEADERS and lowered not in found:
            found[lowered] = value
    for name in DEADLINE_HEADERS:
        raw = found.get(name)
        if raw is not None:
            return _parse(name.decode("latin-1"), raw.decode("latin-1").strip())
    return None


def _parse(name: str, text: str) -> float:
    if name == "grpc-timeout":
        match = _GRPC.match(text)
        if match is None:
            raise BadDeadline(
                f"{name} must be up to 8 digits and a unit (H, M, S, m, u, n), got {text[:40]!r}"
            )
        seconds = int(match.group(1)) * _GRPC_UNITS[match.group(2)]
    else:
        if _SECONDS.match(text) is None:
            raise BadDeadline(f"{name} must be a number of seconds, got {text[:40]!r}")
        seconds = float(text)
    if not (math.isfinite(seconds) and seconds > 0):
        raise BadDeadline(f"{name} must be more than 0 seconds, got {text[:40]!r}")
    return seconds
