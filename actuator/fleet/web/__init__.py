"""The fleet console's web dashboard (``/fleet/``): pages, templates and static files."""

from __future__ import annotations

from actuator.fleet.web.dashboard import Dashboard

__all__ = ["Dashboard"]
