"""SignalDrain's chaining and stop_server, in-process (the real-server side is in tests/e2e)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from types import FrameType

import pytest
import uvicorn
import uvloop

from actuator import Actuator, Availability, ReadinessState
from actuator.management.drain import SignalDrain, stop_server
from tests.support.server import ROOT

# A signal of the test's own, so a slip never stops the test run.
SIG = signal.SIGUSR1


class Recorder:
    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.calls.append(signum)


@pytest.fixture(autouse=True)
def _restore_handlers() -> Iterator[None]:
    saved = {sig: signal.getsignal(sig) for sig in (SIG, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.005)


def _drain(previous: object, period: float) -> SignalDrain:
    signal.signal(SIG, previous)  # type: ignore[arg-type]
    drain = SignalDrain(Availability(), period, signals=(SIG,))
    drain.availability.mark_started()
    assert drain.install()
    return drain


async def test_signal_refuses_traffic_then_hands_over_to_the_previous_handler() -> None:
    previous = Recorder()
    drain = _drain(previous, 0.2)
    signal.raise_signal(SIG)
    await _until(lambda: drain.draining)
    assert drain.availability.readiness is ReadinessState.REFUSING_TRAFFIC
    assert drain.availability.refusals == {"drain": "draining after SIGUSR1"}
    assert previous.calls == []  # still draining
    await _until(lambda: previous.calls != [])
    assert previous.calls == [SIG]
    drain.uninstall()


async def test_second_signal_during_the_drain_hands_over_at_once() -> None:
    previous = Recorder()
    drain = _drain(previous, 60)
    signal.raise_signal(SIG)
    await _until(lambda: drain.draining)
    signal.raise_signal(SIG)
    await _until(lambda: previous.calls != [])
    await asyncio.sleep(0.05)
    assert previous.calls == [SIG]  # once: the pending hand-over was cancelled
    drain.uninstall()


async def test_drain_chains_to_uvicorns_handler() -> None:
    server = uvicorn.Server(uvicorn.Config(app=Actuator()))
    drain = _drain(server.handle_exit, 0.05)
    signal.raise_signal(SIG)
    await _until(lambda: server.should_exit)
    assert server._captured_signals == [SIG]  # re-raised by uvicorn once it has stopped
    assert not server.force_exit
    drain.uninstall()


async def test_ignored_signal_stays_ignored_after_the_drain() -> None:
    drain = _drain(signal.SIG_IGN, 0.01)
    signal.raise_signal(SIG)
    await _until(lambda: drain.draining)
    await asyncio.sleep(0.05)
    assert drain.availability.readiness is ReadinessState.REFUSING_TRAFFIC
    drain.uninstall()
    assert signal.getsignal(SIG) == signal.SIG_IGN


def test_default_action_is_restored_and_the_signal_raised_after_the_drain() -> None:
    script = (
        "import asyncio, signal\n"
        "from actuator import Availability\n"
        "from actuator.management.drain import SignalDrain\n"
        "async def main():\n"
        "    drain = SignalDrain(Availability(), 0.05)\n"
        "    drain.install()\n"
        "    signal.raise_signal(signal.SIGTERM)\n"
        "    await asyncio.sleep(0.01)\n"
        "    print(dict(drain.availability.refusals), flush=True)\n"
        "    await asyncio.sleep(30)\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.stdout == "{'drain': 'draining after SIGTERM'}\n"
    assert done.returncode == -signal.SIGTERM


def test_install_outside_the_main_thread_does_nothing() -> None:
    previous = Recorder()
    signal.signal(SIG, previous)
    drain = SignalDrain(Availability(), 1, signals=(SIG,))
    result: list[bool] = []

    async def install() -> None:
        result.append(drain.install())

    thread = threading.Thread(target=asyncio.run, args=(install(),))
    thread.start()
    thread.join(timeout=10)
    assert result == [False]
    assert not drain.installed
    assert signal.getsignal(SIG) is previous


async def test_uninstall_gives_the_signal_back_and_cancels_a_pending_hand_over() -> None:
    previous = Recorder()
    drain = _drain(previous, 0.05)
    signal.raise_signal(SIG)
    await _until(lambda: drain.draining)
    drain.uninstall()
    await asyncio.sleep(0.15)
    assert previous.calls == []
    assert signal.getsignal(SIG) is previous


async def test_after_uninstall_under_another_handler_signals_pass_straight_on() -> None:
    previous = Recorder()
    drain = _drain(previous, 60)
    inner = signal.getsignal(SIG)
    assert callable(inner)

    def outer(signum: int, frame: FrameType | None) -> None:
        inner(signum, frame)

    signal.signal(SIG, outer)  # someone installed on top of the drain
    drain.uninstall()
    assert signal.getsignal(SIG) is outer  # left in place
    signal.raise_signal(SIG)
    assert previous.calls == [SIG]  # no drain: handed over at once
    assert not drain.draining


# -- servers that listen to signals on their event loop (hypercorn, granian) ----------


@pytest.fixture
async def loop_signals() -> AsyncIterator[list[int]]:
    """SIGUSR1 and SIGUSR2 handled by the running loop, as hypercorn and granian do."""
    heard: list[int] = []
    loop = asyncio.get_running_loop()
    for sig in (SIG, signal.SIGUSR2):
        loop.add_signal_handler(sig, heard.append, sig)
    yield heard
    for sig in (SIG, signal.SIGUSR2):
        loop.remove_signal_handler(sig)


async def test_a_loop_handler_hears_the_signal_only_when_the_drain_is_over(loop_signals) -> None:
    drain = SignalDrain(Availability(), 0.2, signals=(SIG,))
    assert drain.install()
    assert drain.holds_loop_signals
    signal.raise_signal(SIG)
    await _until(lambda: drain.draining)
    await asyncio.sleep(0.05)
    assert loop_signals == []  # held back: the server keeps serving
    assert drain.availability.refusals == {"drain": "draining after SIGUSR1"}
    await _until(lambda: loop_signals != [])
    assert loop_signals == [SIG]
    drain.uninstall()


async def test_other_signals_reach_the_loop_at_once_while_a_drain_is_installed(
    loop_signals,
) -> None:
    drain = SignalDrain(Availability(), 60, signals=(SIG,))
    assert drain.install()
    signal.raise_signal(signal.SIGUSR2)
    await _until(lambda: loop_signals != [])
    assert loop_signals == [signal.SIGUSR2]
    assert not drain.draining
    drain.uninstall()


async def test_uninstall_gives_the_wakeup_descriptor_back_to_the_loop(loop_signals) -> None:
    before = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(before)
    drain = SignalDrain(Availability(), 60, signals=(SIG,))
    assert drain.install()
    drain.uninstall()
    assert signal.set_wakeup_fd(before) == before
    signal.raise_signal(SIG)  # no drain now: the loop hears it at once
    await _until(lambda: loop_signals != [])
    assert loop_signals == [SIG]


async def test_without_loop_handlers_no_wakeup_descriptor_is_taken() -> None:
    drain = _drain(Recorder(), 60)
    assert not drain.holds_loop_signals
    assert signal.set_wakeup_fd(-1) == -1
    drain.uninstall()


@pytest.mark.parametrize("new_loop", [asyncio.new_event_loop, uvloop.new_event_loop])
def test_the_drain_still_holds_the_loop_handler_when_the_loop_runs_again(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    # granian runs the lifespan startup (where the drain is installed)
    # in one run of the loop and serves in the next; uvloop sets a new wakeup
    # descriptor on each run.
    loop = new_loop()
    heard: list[int] = []
    drain = SignalDrain(Availability(), 0.2, signals=(SIG,))
    try:
        loop.add_signal_handler(SIG, heard.append, SIG)

        async def startup() -> None:
            assert drain.install()

        async def serve() -> None:
            await asyncio.sleep(0.1)  # a moment of serving
            signal.raise_signal(SIG)
            await _until(lambda: drain.draining)
            await asyncio.sleep(0.05)
            assert heard == []  # held back: still serving
            await _until(lambda: heard != [])
            drain.uninstall()

        loop.run_until_complete(startup())
        loop.run_until_complete(serve())
    finally:
        drain.uninstall()
        loop.remove_signal_handler(SIG)
        loop.close()
    assert heard == [SIG]
    assert drain.availability.refusals == {"drain": "draining after SIGUSR1"}


async def test_a_loop_that_stops_listening_to_signals_leaves_the_descriptor_unset(
    loop_signals,
) -> None:
    drain = SignalDrain(Availability(), 60, signals=(SIG,))
    assert drain.install()
    signal.set_wakeup_fd(-1)  # as asyncio does when its last signal handler goes
    await asyncio.sleep(0.1)  # a few checks
    assert signal.set_wakeup_fd(-1) == -1
    drain.uninstall()
    assert signal.set_wakeup_fd(-1) == -1


async def test_stop_server_behind_a_drain_wakes_the_loop_handler_at_once(loop_signals) -> None:
    drain = SignalDrain(Availability(), 60, signals=(SIG,))
    assert drain.install()
    stop_server(SIG)
    await _until(lambda: loop_signals != [])
    assert loop_signals == [SIG]
    assert not drain.draining
    drain.uninstall()


async def test_stop_server_without_a_drain_raises_the_signal_for_the_loop(loop_signals) -> None:
    stop_server(SIG)
    await _until(lambda: loop_signals != [])
    assert loop_signals == [SIG]


@pytest.mark.parametrize("period", [-1, float("nan"), float("inf"), True, "5"])
def test_invalid_period_is_a_value_error(period: object) -> None:
    with pytest.raises(ValueError, match="period must be a number of seconds >= 0"):
        SignalDrain(Availability(), period)  # type: ignore[arg-type]


def test_no_signals_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="signals must name at least one signal"):
        SignalDrain(Availability(), 1, signals=())


# -- stop_server ------------------------------------------------------------------


def test_stop_server_tells_uvicorn_to_exit() -> None:
    server = uvicorn.Server(uvicorn.Config(app=Actuator()))
    signal.signal(signal.SIGTERM, server.handle_exit)
    stop_server()
    assert server.should_exit
    assert server._captured_signals == []  # so the process exits 0, not by the signal


async def test_stop_server_looks_through_an_installed_drain() -> None:
    server = uvicorn.Server(uvicorn.Config(app=Actuator()))
    signal.signal(signal.SIGTERM, server.handle_exit)
    drain = SignalDrain(Availability(), 60)
    assert drain.install()
    stop_server()
    assert server.should_exit
    assert not drain.draining  # stopping on purpose skips the drain
    drain.uninstall()


def test_stop_server_calls_another_servers_handler_as_the_signal_would() -> None:
    handler = Recorder()
    signal.signal(SIG, handler)
    stop_server(SIG)
    assert handler.calls == [SIG]


def test_stop_server_leaves_an_ignored_signal_ignored() -> None:
    signal.signal(SIG, signal.SIG_IGN)
    stop_server(SIG)
    assert signal.getsignal(SIG) == signal.SIG_IGN


def test_stop_server_raises_the_signal_when_no_handler_is_set() -> None:
    script = (
        "from actuator.management.drain import stop_server\nstop_server()\nprint('still here')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.stdout == ""
    assert done.returncode == -signal.SIGTERM
