"""The ``facts`` info section: the app's own key/values, for fleet tools to filter on."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class FactsContributor:
    """``{"datacenter": "eu-west-1", "environment": "production", "team": "payments"}``.

    Facts come from ``info.facts`` (``ACTUATOR_INFO__FACTS='{"team": "payments"}'``)
    and ``actuator.add_facts(...)``. No facts: no section.
    """

    def __init__(self, facts: Callable[[], Mapping[str, Any]]) -> None:
        self._facts = facts

    def contribute(self) -> dict[str, Any] | None:
        return dict(self._facts()) or None
