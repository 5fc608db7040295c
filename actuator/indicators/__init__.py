"""Built-in health indicators."""

from __future__ import annotations

from actuator.indicators.command import CommandIndicator
from actuator.indicators.disk import DiskSpaceIndicator
from actuator.indicators.event_loop import EventLoopLagIndicator
from actuator.indicators.file import FileFreshnessIndicator
from actuator.indicators.http import HttpIndicator
from actuator.indicators.ping import ping
from actuator.indicators.tcp import TcpIndicator

__all__ = [
    "CommandIndicator",
    "DiskSpaceIndicator",
    "EventLoopLagIndicator",
    "FileFreshnessIndicator",
    "HttpIndicator",
    "TcpIndicator",
    "ping",
]
