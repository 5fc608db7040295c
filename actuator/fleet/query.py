"""Query parameters shared by the JSON API and the dashboard: parsed once, refused clearly.

Lists repeat or take commas (``status=DOWN,UNKNOWN``); ``where`` repeats
(``where=team=orders&where=environment=prod``). Every bad value raises
``ApiError(400, ...)`` naming the parameter; the API answers it as JSON, the
dashboard as a page.
"""

from __future__ import annotations

from starlette.requests import Request

from actuator.fleet.model import FACT_KEY

_STATUS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class ApiError(Exception):
    """A refused request: its status, a message naming the problem, extra headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def params(request: Request, allowed: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key not in allowed:
            accepted = ", ".join(sorted(allowed)) or "none"
            raise ApiError(400, f"Unknown parameter {key[:50]!r} (accepted: {accepted})")
        # Repeated or comma-separated: ?status=DOWN&status=UP or ?status=DOWN,UP
        items = [value] if key in ("where", "q") else [v for v in value.split(",") if v]
        found.setdefault(key, []).extend(items)
    return found


def statuses(params: dict[str, list[str]]) -> list[str]:
    codes = [s.upper() for s in params.get("status", [])]
    for status in codes:
        if not status or len(status) > 32 or not set(status) <= _STATUS:
            raise ApiError(400, f"Parameter 'status': {status[:40]!r} is not a status code")
    return codes


def where(params: dict[str, list[str]]) -> dict[str, str]:
    facts = {}
    for item in params.get("where", []):
        key, sep, value = item.partition("=")
        if not sep or not FACT_KEY.match(key):
            raise ApiError(400, f"Parameter 'where' takes fact=value, got {item[:60]!r}")
        facts[key] = value
    return facts


def sort(params: dict[str, list[str]], allowed: tuple[str, ...], default: str) -> str:
    chosen = params.get("sort", [default])[-1]
    if chosen not in allowed:
        raise ApiError(400, f"Parameter 'sort' must be one of {', '.join(allowed)}")
    return chosen


def descending(params: dict[str, list[str]]) -> bool:
    order = params.get("order", ["asc"])[-1]
    if order not in ("asc", "desc"):
        raise ApiError(400, "Parameter 'order' must be asc or desc")
    return order == "desc"


def integer(params: dict[str, list[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    text = values[-1]
    if not text.isdigit() or len(text) > 9:
        raise ApiError(400, f"Parameter {name!r} must be a non-negative integer")
    return int(text)
