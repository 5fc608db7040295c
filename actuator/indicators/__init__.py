"""Built-in health indicators."""

from __future__ import annotations

from actuator.indicators.disk import DiskSpaceIndicator
from actuator.indicators.event_loop import EventLoopLagIndicator
from actuator.indicators.ping import ping

__all__ = ["DiskSpaceIndicator", "EventLoopLagIndicator", "ping"]
