"""Built-in health indicators."""

from __future__ import annotations

from actuator.health.indicators.command import CommandIndicator
from actuator.health.indicators.disk import DiskSpaceIndicator
from actuator.health.indicators.event_loop import EventLoopLagIndicator
from actuator.health.indicators.file import FileFreshnessIndicator
from actuator.health.indicators.http import HttpIndicator
from actuator.health.indicators.ping import ping
from actuator.health.indicators.tcp import TcpIndicator

__all__ = [
    "CommandIndicator",
    "DiskSpaceIndicator",
    "EventLoopLagIndicator",
    "FileFreshnessIndicator",
    "HttpIndicator",
    "TcpIndicator",
    "ping",
]
