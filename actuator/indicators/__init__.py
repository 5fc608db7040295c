"""Built-in health indicators."""

from __future__ import annotations

from actuator.indicators.disk import DiskSpaceIndicator
from actuator.indicators.event_loop import EventLoopLagIndicator
from actuator.indicators.http import HttpIndicator
from actuator.indicators.ping import ping
from actuator.indicators.tcp import TcpIndicator

__all__ = ["DiskSpaceIndicator", "EventLoopLagIndicator", "HttpIndicator", "TcpIndicator", "ping"]
