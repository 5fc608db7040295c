"""The ping indicator: always UP. Proves the health endpoint itself answers."""

from __future__ import annotations

from actuator.health.result import Health


async def ping() -> Health:
    """Always ``UP``, no details. Registered as ``ping`` unless ``health.ping.enabled`` is off."""
    return Health.up()
