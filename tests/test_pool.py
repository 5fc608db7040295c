"""The actuator's daemon thread pool."""

from __future__ import annotations

import threading
import time

import pytest

from actuator._pool import DaemonThreadPool


def test_runs_work_in_bounded_named_daemon_threads() -> None:
    pool = DaemonThreadPool(2, thread_name_prefix="actuator")
    release = threading.Event()
    seen: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def work() -> int:
        with lock:
            thread = threading.current_thread()
            seen.append((thread.name, thread.daemon))
        release.wait(5)
        return 1

    futures = [pool.submit(work) for _ in range(5)]
    deadline = time.monotonic() + 5
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    assert len(seen) == 2  # only two threads, the rest wait their turn
    release.set()
    assert [f.result(timeout=5) for f in futures] == [1] * 5
    assert {name for name, _ in seen} <= {"actuator_0", "actuator_1"}
    assert all(daemon for _, daemon in seen)
    pool.shutdown()


def test_idle_threads_are_reused() -> None:
    pool = DaemonThreadPool(8)
    for _ in range(20):
        pool.submit(threading.get_ident).result(timeout=5)
    assert len(pool._threads) == 1
    pool.shutdown()


def test_exceptions_reach_the_future() -> None:
    pool = DaemonThreadPool(1)

    def fail() -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        pool.submit(fail).result(timeout=5)
    pool.shutdown()


def test_shutdown_cancels_waiting_work_and_refuses_new_work() -> None:
    pool = DaemonThreadPool(1)
    release = threading.Event()
    running = pool.submit(release.wait, 5)
    waiting = pool.submit(int)
    pool.shutdown(wait=False, cancel_futures=True)
    assert waiting.cancelled()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(int)
    release.set()
    assert running.result(timeout=5) is True


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_max_workers_must_be_a_positive_int(bad: object) -> None:
    with pytest.raises(ValueError, match="max_workers"):
        DaemonThreadPool(bad)  # type: ignore[arg-type]
