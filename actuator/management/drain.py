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
import math
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any, TypeAlias

from actuator.health.availability import Availability

logger = logging.getLogger("actuator.drain")

DRAIN_SOURCE = "drain"

# What signal.signal() returns: a Python callable, SIG_DFL/SIG_IGN, or None
# when the handler was not installed from Python.
_Handler: TypeAlias = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class SignalDrain:
    """Chains a drain in front of the server's handler for ``signals``.

    ::

        drain = SignalDrain(actuator.availability, period=5.0)
        drain.install()      # on the running event loop, in the main thread
        ...
        drain.uninstall()

    On the first signal, readiness turns OUT_OF_SERVICE (refusal source
    ``drain``) on the next turn of the event loop, and the handler that was
    in place at ``install()`` (uvicorn's, a gunicorn worker's...) is called
    ``period`` seconds later, so the server's own graceful shutdown follows.
    A second signal during the drain hands over at once. If the previous
    handler was the default action, the default action is restored and the
    signal raised again; if it was ``SIG_IGN``, the signal stays ignored. Only
    the main thread can set signal handlers; elsewhere ``install()`` does
    nothing, logs a warning and returns ``False``.

    The actuator installs one on startup when ``drain_period`` > 0.

    Parameters:
        availability: whose readiness turns OUT_OF_SERVICE.
        period: seconds to keep serving after the signal (0 hands over on the
            next turn of the loop).
        signals: defaults to ``(SIGTERM,)``. SIGINT is best left alone, so
            Ctrl+C stops a server at once.
    """

    def __init__(
        self,
        availability: Availability,
        period: float,
        signals: Iterable[signal.Signals] = (signal.SIGTERM,),
    ) -> None:
        if (
            isinstance(period, bool)
            or not isinstance(period, (int, float))
            or not math.isfinite(period)
            or period < 0
        ):
            raise ValueError(f"period must be a number of seconds >= 0, got {period!r}")
        self.availability = availability
        self.period = float(period)
        self.signals = tuple(signal.Signals(sig) for sig in signals)
        if not self.signals:
            raise ValueError("signals must name at least one signal")
        self._previous: dict[signal.Signals, _Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._installed = False
        self._draining = False
        self._handed_over = False
        self._timer: asyncio.TimerHandle | None = None

    @property
    def draining(self) -> bool:
        """Whether a signal has started the drain."""
        return self._draining

    @property
    def installed(self) -> bool:
        return self._installed

    def install(self) -> bool:
        """Put the drain in front of the current handlers; ``False`` when not possible here."""
        if self._installed:
            return True
        if threading.current_thread() is not threading.main_thread():
            logger.warning("Drain on SIGTERM not installed: not running in the main thread")
            return False
        self._loop = asyncio.get_running_loop()
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)
        self._installed = True
        logger.info(
            "Drain on %s installed: %gs of readiness OUT_OF_SERVICE before stopping",
            "/".join(s.name for s in self.signals),
            self.period,
        )
        return True

    def previous_handler(self, sig: signal.Signals) -> _Handler:
        """The handler ``sig`` had before ``install()`` (the server's own, usually)."""
        return self._previous.get(sig, signal.SIG_DFL)

    def uninstall(self) -> None:
        """Give the signals back to the handlers found at ``install()``; cancel a pending
        hand-over."""
        self._installed = False
        self._cancel_timer()
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in list(self._previous.items()):
            # If another handler was set on top of ours, leave it: when it calls
            # us, we pass the signal straight on to the previous handler.
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, signal.SIG_DFL if previous is None else previous)
                del self._previous[sig]

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        # A Python signal handler runs between two bytecodes of the main
        # thread, possibly inside the event loop's own code or a logging call:
        # do nothing here but hand over to the loop, thread-safely.
        sig = signal.Signals(signum)
        loop = self._loop
        if self._installed and loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self._on_signal, sig, frame)
                return
            except RuntimeError:  # the loop closed in between
                pass
        self._chain(sig, frame)

    def _on_signal(self, sig: signal.Signals, frame: FrameType | None) -> None:
        if not self._installed or self._draining or self._loop is None:
            if self._draining and not self._handed_over:
                logger.warning("%s again during the drain: stopping now", sig.name)
            self._chain(sig, frame)
            return
        self._draining = True
        self.availability.refuse_traffic(f"draining after {sig.name}", source=DRAIN_SOURCE)
        logger.warning(
            "%s received: readiness OUT_OF_SERVICE, serving for %gs before stopping",
            sig.name,
            self.period,
        )
        self._timer = self._loop.call_later(self.period, self._chain, sig, frame)

    def _chain(self, sig: signal.Signals, frame: FrameType | None) -> None:
        self._cancel_timer()
        if self._draining and not self._handed_over:
            logger.info("Drain over: handing %s to the server", sig.name)
        self._handed_over = True
        previous = self.previous_handler(sig)
        if callable(previous):
            previous(sig.value, frame)
        elif previous == signal.SIG_IGN:
            logger.info("%s is ignored by this process: not stopping", sig.name)
        else:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _server_handler(sig: signal.Signals = signal.SIGTERM) -> _Handler:
    """The server's own handler for ``sig``, looking through an installed drain."""
    handler: _Handler = signal.getsignal(sig)
    drain = getattr(handler, "__self__", None)
    if isinstance(drain, SignalDrain):
        handler = drain.previous_handler(sig)
    return handler


def stop_server(sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask the server to shut down gracefully, as ``sig`` would, skipping any drain.

    Call it from the event loop's thread (a shutdown endpoint, a management
    command)::

        stop_server()

    uvicorn's server is told to exit directly (its ``should_exit`` flag), so
    the process exits 0 rather than by the signal; another server's handler
    is called as if the signal had come; with the default action, the signal
    is raised; an ignored signal does nothing.

    Parameters:
        sig: the signal whose handler stops the server. Default ``SIGTERM``.
    """
    handler = _server_handler(sig)
    server = getattr(handler, "__self__", None)
    if server is not None and hasattr(server, "should_exit"):
        server.should_exit = True
    elif callable(handler):
        handler(sig.value, None)
    elif handler != signal.SIG_IGN:
        signal.raise_signal(sig)
