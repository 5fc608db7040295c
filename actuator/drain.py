"""Graceful drain: on SIGTERM, refuse traffic first and let the server stop later.

A server stops accepting connections as soon as it gets SIGTERM, while
Kubernetes may still route traffic to the pod for a few seconds (endpoint
removal is asynchronous). With a drain period, SIGTERM turns readiness
OUT_OF_SERVICE at once, the app keeps serving for the period, and then the
server's own SIGTERM handler runs, so its graceful shutdown proceeds as usual.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from types import FrameType
from typing import Any

from actuator.availability import Availability

logger = logging.getLogger("actuator.drain")

DRAIN_SOURCE = "drain"


class SignalDrain:
    """Chains a drain in front of the server's handler for ``signals``.

    The previous handler (uvicorn's, gunicorn's worker's...) is kept and
    called after ``period`` seconds; a second signal during the drain calls it
    at once. If the previous handler was the default action, the default
    action is restored and the signal raised again. Only the main thread can
    set signal handlers; elsewhere this does nothing and says so.

    Parameters:
        availability: whose readiness turns OUT_OF_SERVICE.
        period: seconds to keep serving after the signal.
        signals: defaults to ``(SIGTERM,)``.
    """

    def __init__(
        self,
        availability: Availability,
        period: float,
        signals: tuple[signal.Signals, ...] = (signal.SIGTERM,),
    ) -> None:
        self.availability = availability
        self.period = period
        self.signals = signals
        self._previous: dict[signal.Signals, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._draining = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def draining(self) -> bool:
        return self._draining

    def install(self) -> bool:
        if threading.current_thread() is not threading.main_thread():
            logger.warning("Drain on SIGTERM not installed: not running in the main thread")
            return False
        self._loop = asyncio.get_running_loop()
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        logger.info("Drain on %s installed: %gs of readiness OUT_OF_SERVICE before stopping",
                    "/".join(s.name for s in self.signals), self.period)
        return True

    def uninstall(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        sig = signal.Signals(signum)
        if self._draining:
            logger.warning("%s again during the drain: stopping now", sig.name)
            self._chain(sig, frame)
            return
        self._draining = True
        self.availability.refuse_traffic(f"draining after {sig.name}", source=DRAIN_SOURCE)
        logger.warning("%s received: readiness OUT_OF_SERVICE, serving for %gs before stopping",
                       sig.name, self.period)
        loop = self._loop
        if loop is None or loop.is_closed():
            self._chain(sig, frame)
            return
        # A signal handler may interrupt the loop anywhere; only the thread-safe
        # entry point is safe to touch from here.
        loop.call_soon_threadsafe(self._schedule, sig, frame)

    def _schedule(self, sig: signal.Signals, frame: FrameType | None) -> None:
        if self._loop is not None:
            self._timer = self._loop.call_later(self.period, self._chain, sig, frame)

    def _chain(self, sig: signal.Signals, frame: FrameType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        previous = self._previous.get(sig, signal.SIG_DFL)
        logger.info("Drain over: handing %s to the server", sig.name)
        if callable(previous):
            previous(sig.value, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)


def _server_handler(sig: signal.Signals = signal.SIGTERM) -> Any:
    """The server's own handler for ``sig``, looking through an installed drain."""
    handler = signal.getsignal(sig)
    drain = getattr(handler, "__self__", None)
    if isinstance(drain, SignalDrain):
        handler = drain._previous.get(sig, signal.SIG_DFL)
    return handler


def stop_server(sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask the server to shut down gracefully, as ``sig`` would, from the loop's thread.

    uvicorn's server is told to exit directly (so the process exits 0 rather
    than by the signal); another server's handler is called as if the signal
    had come; with no handler, the signal is raised.
    """
    handler = _server_handler(sig)
    server = getattr(handler, "__self__", None)
    if server is not None and hasattr(server, "should_exit"):
        server.should_exit = True
    elif callable(handler):
        handler(sig.value, None)
    elif handler != signal.SIG_IGN:
        signal.raise_signal(sig)
