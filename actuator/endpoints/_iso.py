"""ISO-8601 instants and durations, as Spring Boot's actuator writes and reads them."""

from __future__ import annotations

import datetime


def instant(timestamp: float) -> str:
    """A Unix timestamp as a UTC instant: ``2025-05-01T09:30:11.374512Z``."""
    when = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def duration(seconds: float) -> str:
    """Seconds as an ISO-8601 duration, as Java's ``Duration`` prints it: ``PT0.023S``."""
    text = f"{max(seconds, 0.0):.9f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def parse_instant(text: str) -> datetime.datetime:
    """An ISO-8601 date-time with an offset (``Z`` allowed); ``ValueError`` otherwise."""
    parsed = datetime.datetime.fromisoformat(
        text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    )
    if parsed.tzinfo is None:
        raise ValueError("the date-time has no offset (add Z or +01:00)")
    return parsed
