"""The TCP connect indicator: does something listen at host:port?"""

from __future__ import annotations

import asyncio
import contextlib
import time

from actuator.health import Health


class TcpIndicator:
    """UP when a TCP connection to ``host:port`` opens within ``timeout`` seconds.

    The connection is closed at once. Details: ``host``, ``port`` and
    ``elapsedSeconds``; DOWN with ``error`` when refused, unreachable or slow::

        actuator.add_indicator("redis", TcpIndicator("redis", 6379), groups=["readiness"])

    Parameters:
        host: host name or address.
        port: TCP port (1-65535).
        timeout: seconds to wait for the connection. Default 0.4.
    """

    def __init__(self, host: str, port: int, *, timeout: float = 0.4) -> None:
        if not host or not isinstance(host, str):
            raise ValueError(f"host must be a non-empty string, got {host!r}")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be 1..65535, got {port!r}")
        if isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        self.host = host
        self.port = port
        self.timeout = timeout

    async def health(self) -> Health:
        details: dict[str, object] = {"host": self.host, "port": self.port}
        started = time.perf_counter()
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (asyncio.TimeoutError, TimeoutError):
            details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
            return Health.down(f"TimeoutError: no connection within {self.timeout:g}s",
                               **details)
        except OSError as exc:
            details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
            return Health.down(exc, **details)
        details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return Health.up(**details)
