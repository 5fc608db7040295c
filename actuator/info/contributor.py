"""What counts as an info contributor."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

InfoResult = Mapping[str, Any] | None


@runtime_checkable
class InfoContributor(Protocol):
    """An object that adds a section to ``/actuator/info``. ``contribute`` may be sync or async.

    Return a JSON-able mapping, or ``None`` (or an empty mapping) to leave the
    section out::

        class TeamInfo:
            def contribute(self) -> dict[str, str]:
                return {"owner": "payments", "slack": "#payments-oncall"}
    """

    def contribute(self) -> InfoResult | Awaitable[InfoResult]: ...


ContributorFunction = Callable[[], InfoResult | Awaitable[InfoResult]]
Contributor = ContributorFunction | InfoContributor


def contributor_callable(contributor: object, name: str) -> ContributorFunction:
    method = getattr(contributor, "contribute", None)
    if method is not None and callable(method):
        return method  # type: ignore[no-any-return]
    if callable(contributor):
        return contributor
    raise TypeError(
        f"contributor {name!r} must be a callable or an object with contribute(); "
        f"got {type(contributor).__name__}"
    )
