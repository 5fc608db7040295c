"""The actuator's own thread pool for sync indicators and contributors."""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_WorkItem = tuple[
    "concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]
]


@dataclass(frozen=True)
class PoolStats:
    """A pool's use at one moment: threads started, threads running a call, calls waiting."""

    threads: int
    busy: int
    queued: int
    max_workers: int


class DaemonThreadPool(concurrent.futures.Executor):
    """A bounded pool of daemon threads, started on demand.

    ``ThreadPoolExecutor`` joins its threads when the interpreter exits, so one
    sync check stuck forever (a socket without a timeout) would keep the
    process from ever stopping: Kubernetes would wait out the grace period and
    kill it. A stuck check in a daemon thread is simply abandoned at exit.

    Parameters:
        max_workers: most threads at once. Default 8.
        thread_name_prefix: threads are named ``{prefix}_{n}``. Default ``"actuator"``.
    """

    def __init__(self, max_workers: int = 8, thread_name_prefix: str = "actuator") -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be a positive int, got {max_workers!r}")
        self.max_workers = max_workers
        self.thread_name_prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False
        self._busy = 0

    def stats(self) -> PoolStats:
        """How the pool is used now, for metrics."""
        with self._lock:
            return PoolStats(
                threads=len(self._threads),
                busy=self._busy,
                queued=max(0, self._queue.qsize() - self._shutdown),
                max_workers=self.max_workers,
            )

    def submit(
        self, fn: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[T]:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new work after shutdown")
            future: concurrent.futures.Future[T] = concurrent.futures.Future()
            self._queue.put((future, fn, args, kwargs))
            # An idle thread will take it; otherwise grow up to the bound (as ThreadPoolExecutor).
            if not self._idle.acquire(blocking=False) and len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._work,
                    name=f"{self.thread_name_prefix}_{len(self._threads)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
            return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._queue.put(None)  # wake the next thread too
                return
            future, fn, args, kwargs = item
            del item
            if future.set_running_or_notify_cancel():
                with self._lock:
                    self._busy += 1
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    future.set_exception(exc)
                else:
                    future.set_result(result)
                finally:
                    with self._lock:
                        self._busy -= 1
            del future, fn, args, kwargs
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shutdown = True
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            self._queue.put(None)
            threads = list(self._threads)
        if wait:
            for thread in threads:
                thread.join()
