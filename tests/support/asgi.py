"""Requests to an Actuator served alone through httpx.ASGITransport (no lifespan)."""

from __future__ import annotations

import httpx

from actuator import Actuator


async def get_once(actuator: Actuator, path: str) -> httpx.Response:
    """``GET path`` from ``actuator``, then shut it down: without lifespan the first
    request starts its background work (the event-loop heartbeat), which must not outlive
    the test's event loop."""
    transport = httpx.ASGITransport(app=actuator)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path)
    finally:
        await actuator.shutdown()
