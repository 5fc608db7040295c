"""Turning the store's answers into HTML: the Jinja2 environment and its helpers.

Every value is escaped (autoescape on); templates and static files ship inside
the package, so a console needs no CDN and no network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, select_autoescape

from actuator.__about__ import __version__

# Text beside every colour, so a status reads without it (and to a screen reader).
ICONS = {
    "UP": "✔",
    "DOWN": "✖",
    "DISCONNECTED": "⚠",
    "OUT_OF_SERVICE": "‖",
    "INIT": "…",
    "UNKNOWN": "?",
}
STATUS_CLASSES = frozenset(ICONS)
VERSION_SLOTS = 4  # bars show the largest versions; the rest are summed as "other"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("actuator.fleet.web", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["number"] = number
    env.filters["ago"] = ago
    env.globals["icon"] = lambda status: ICONS.get(status, "?")
    env.globals["status_class"] = status_class
    env.globals["version"] = __version__
    env.globals["version_bar"] = version_bar
    return env


def status_class(status: str | None) -> str:
    code = status or "UNKNOWN"
    return "s-" + (code if code in STATUS_CLASSES else "UNKNOWN").lower()


def number(value: int | float) -> str:
    return f"{value:,}"


def ago(iso: str | None, now: float | None = None) -> str:
    """``3 min ago`` for an ISO time from the store; ``never`` for none."""
    if not iso:
        return "never"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = (now if now is not None else datetime.now(timezone.utc).timestamp()) - (
        moment.timestamp()
    )
    if seconds < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"


def version_bar(versions: Mapping[str, int]) -> list[dict[str, Any]]:
    """The largest versions with their share, as segments of a bar (x and width in %)."""
    total = sum(versions.values())
    if not total:
        return []
    ranked = sorted(versions.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:VERSION_SLOTS]
    rest = sum(count for _, count in ranked[VERSION_SLOTS:])
    if rest:
        shown.append((f"{len(ranked) - VERSION_SLOTS} other", rest))
    segments, x = [], 0.0
    for slot, (name, count) in enumerate(shown):
        width = 100.0 * count / total
        segments.append(
            {
                "name": name,
                "count": count,
                "percent": round(width, 1),
                "x": round(x, 2),
                "width": round(width, 2),
                "slot": slot,
            }
        )
        x += width
    return segments


def query_string(params: Mapping[str, Sequence[str]], **changes: str | None) -> str:
    """``?a=1&b=2``: ``params`` with ``changes`` applied (``None`` removes a key)."""
    merged: dict[str, Sequence[str]] = dict(params)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = [value]
    pairs = [(key, value) for key, values in merged.items() for value in values]
    return "?" + urlencode(pairs) if pairs else "?"
