"""The TCP connect indicator: does something listen at host:port?"""

from __future__ import annotations

import asyncio
import contextlib
import time

from actuator.health.indicators._params import seconds
from actuator.health.result import Health


class TcpIndicator:
    """UP when a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    The cheapest check of a dependency that has no health API (a database, a
    cache, a broker): it proves something accepts connections there, not that
    it works. The connection is closed at once, nothing is sent. ``timeout``
    covers the name lookup and the connect. Details: ``host``, ``port`` and
    ``elapsedSeconds``; DOWN with ``error`` when refused, unreachable, the
    name does not resolve, or no connection opens in time::

        actuator.add_indicator("redis", TcpIndicator("redis", 6379), groups=["readiness"])

    Parameters:
        host: host name or IP address.
        port: TCP port, 1-65535.
        timeout: seconds to wait for the connection. Default 0.4 (under the
            indicator's own ``health.timeout``, 0.5 s).
    """

    def __init__(self, host: str, port: int, *, timeout: float = 0.4) -> None:
        if not isinstance(host, str) or not host or any(ch.isspace() for ch in host):
            raise ValueError(f"TcpIndicator host must be a host name or address, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"TcpIndicator port must be an int in 1..65535, got {port!r}")
        self.host = host
        self.port = port
        self.timeout = seconds("TcpIndicator", "timeout", timeout)

    async def health(self) -> Health:
        details: dict[str, object] = {"host": self.host, "port": self.port}
        started = time.perf_counter()
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (asyncio.TimeoutError, TimeoutError):
            error: BaseException | str = f"TimeoutError: no connection within {self.timeout:g}s"
        except OSError as exc:  # refused, unreachable, name not resolved (gaierror)
            error = exc
        else:
            details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return Health.up(**details)
        details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
        return Health.down(error, **details)
