"""Graceful drain: on SIGTERM, refuse traffic first and let the server stop later.

A server stops accepting connections as soon as it gets SIGTERM, while
Kubernetes may still route traffic to the pod for a few seconds (endpoint
removal is asynchronous). With a drain period, SIGTERM turns readiness
OUT_OF_SERVICE at once, the app keeps serving for the period, and then the
server's own SIGTERM handler runs, so its graceful shutdown proceeds as usual.

Servers hear signals in one of two ways, and the drain holds back both:

- a Python handler set with ``signal.signal`` (uvicorn, and so gunicorn's
  uvicorn worker): the drain sets its own in front and calls the server's
  later;
- an event-loop handler set with ``loop.add_signal_handler`` (hypercorn,
  granian's workers): Python's C-level handler writes the signal number to the
  file descriptor given to ``signal.set_wakeup_fd``, and the loop dispatches on
  the numbers it reads there, whatever Python handler is set. The drain puts a
  socket of its own in that place, passes every other signal's number straight
  on to the loop's descriptor, and writes the drained signal's number there
  when the period is over.

uvloop (``--loop uvloop``, or ``auto`` where it is installed) sets a new
descriptor of its own each time the loop starts running and puts the previous
one back when it stops; granian runs the lifespan startup, where
the drain is installed, in one run and serves in the next. The drain therefore
keeps checking that the descriptor is still its own and takes it back when a
loop has set another (at once after a change, then about once a second), so a
SIGTERM reaches it there too. A signal in the few milliseconds between a new
run's start and that check goes to the loop directly: the server stops
without the drain, as it would without the actuator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
import socket
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
    ``period`` seconds later, so the server's own graceful shutdown follows;
    an event loop that listens to the signal (``loop.add_signal_handler``, as
    hypercorn and granian do) hears it then too, not before.
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
        self._relay: _WakeupRelay | None = None

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
        self._relay = _WakeupRelay.install(self._loop, held={sig.value for sig in self.signals})
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
        if self._relay is not None:
            self._relay.uninstall()
            self._relay = None
        for sig, previous in list(self._previous.items()):
            # If another handler was set on top of ours, leave it: when it calls
            # us, we pass the signal straight on to the previous handler.
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, signal.SIG_DFL if previous is None else previous)
                del self._previous[sig]

    @property
    def holds_loop_signals(self) -> bool:
        """Whether an event loop's signal handlers wait behind the drain (hypercorn, granian)."""
        return self._relay is not None

    def hand_over(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Give ``sig`` to the server now, as the end of a drain would (``stop_server``)."""
        self._chain(sig, None)

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
        if self._relay is not None:
            self._relay.deliver(sig.value)
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


class _WakeupRelay:
    """Stands between Python's signal wakeup descriptor and the event loop that had it.

    The loop's ``add_signal_handler`` callbacks run when it reads a signal's
    number from the descriptor it gave ``signal.set_wakeup_fd``. The relay
    takes that place with a socket of its own, passes on every number but the
    ``held`` ones, and hands a held one on when told to (``deliver``).
    """

    FIRST_CHECK = 0.01
    """Seconds to the first check that the descriptor is still the relay's (doubling)."""
    CHECK_EVERY = 1.0
    """The longest time between two checks."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        held: set[int],
        target: int,
        sockets: tuple[socket.socket, socket.socket],
    ) -> None:
        self.loop = loop
        self.held = held
        self.target = target
        """The descriptor the loop gave ``set_wakeup_fd``: where its signals go (-1: none)."""
        self._receive, self._send = sockets
        self._check_in = self.FIRST_CHECK
        self._check: asyncio.TimerHandle | None = None

    @classmethod
    def install(cls, loop: asyncio.AbstractEventLoop, held: set[int]) -> _WakeupRelay | None:
        """The relay, or ``None`` when no event loop listens to signals here (uvicorn)."""
        receive, send = socket.socketpair()
        receive.setblocking(False)
        send.setblocking(False)
        target = signal.set_wakeup_fd(send.fileno(), warn_on_full_buffer=False)
        if target == -1:
            signal.set_wakeup_fd(-1)
            receive.close()
            send.close()
            return None
        relay = cls(loop, held, target, (receive, send))
        loop.add_reader(receive.fileno(), relay._relay)
        relay._check = loop.call_later(relay._check_in, relay._take_back)
        return relay

    def deliver(self, signum: int) -> None:
        """Let the loop hear ``signum`` now."""
        self._write(bytes([signum]))

    def _write(self, data: bytes) -> None:
        if self.target < 0:
            return
        with contextlib.suppress(OSError):  # a full buffer: the loop is being woken anyway
            os.write(self.target, data)

    def _take_back(self) -> None:
        """Be the wakeup descriptor again if a loop has set its own (uvloop, on each run)."""
        mine = self._send.fileno()
        current = signal.set_wakeup_fd(mine, warn_on_full_buffer=False)
        if current == -1:  # no loop listens to signals now: leave it so
            signal.set_wakeup_fd(-1)
        if current in (mine, self.target):
            self._check_in = min(self._check_in * 2, self.CHECK_EVERY)
        else:
            self.target = current
            self._check_in = self.FIRST_CHECK
        self._check = self.loop.call_later(self._check_in, self._take_back)

    def uninstall(self) -> None:
        if self._check is not None:
            self._check.cancel()
            self._check = None
        current = signal.set_wakeup_fd(self.target)
        if current != self._send.fileno():
            signal.set_wakeup_fd(current)  # someone took it after us: leave it to them
        if not self.loop.is_closed():
            self.loop.remove_reader(self._receive.fileno())
        self._receive.close()
        self._send.close()

    def _relay(self) -> None:
        while True:
            try:
                data = self._receive.recv(4096)
            except OSError:  # BlockingIOError: read it all
                return
            if not data:
                return
            passed = bytes(signum for signum in data if signum not in self.held)
            if passed:
                self._write(passed)


def _drain_and_handler(sig: signal.Signals) -> tuple[SignalDrain | None, _Handler]:
    """The installed drain for ``sig`` (if any) and the server's own handler behind it."""
    handler: _Handler = signal.getsignal(sig)
    drain = getattr(handler, "__self__", None)
    if isinstance(drain, SignalDrain):
        return drain, drain.previous_handler(sig)
    return None, handler


def stop_server(sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask the server to shut down gracefully, as ``sig`` would, skipping any drain.

    Call it from the event loop's thread (a shutdown endpoint, a management
    command)::

        stop_server()

    uvicorn's server is told to exit directly (its ``should_exit`` flag), so
    the process exits 0 rather than by the signal; behind a drain, the server
    gets the signal at once (its Python handler, and the event loop's handler
    of hypercorn or granian); otherwise the signal is raised, so whoever
    listens hears it (with the default action, the process ends); an ignored
    signal does nothing.

    Parameters:
        sig: the signal whose handler stops the server. Default ``SIGTERM``.
    """
    drain, handler = _drain_and_handler(sig)
    server = getattr(handler, "__self__", None)
    if server is not None and hasattr(server, "should_exit"):
        server.should_exit = True
    elif drain is not None:
        drain.hand_over(sig)
    elif handler != signal.SIG_IGN:
        signal.raise_signal(sig)
