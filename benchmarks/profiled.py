"""Run a module under cProfile in every thread, writing one pstats file at exit.

    python -m benchmarks.profiled OUT.pstats -m actuator fleet serve ...

cProfile alone sees only the main thread; the fleet console stores its
batches in executor threads, so each thread started afterwards gets a
profiler of its own too, and the files are merged at exit (a normal exit:
SIGTERM to uvicorn is one). Profiling slows the profiled process down by
half or more: use it to see where the CPU goes, not for the figures.
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import signal
import sys
import threading
from typing import Any

profiles: list[cProfile.Profile] = []


def _start_in_thread(*_: Any) -> None:
    # The first profile event in a new thread: hand the thread to a profiler of its own.
    sys.setprofile(None)
    profile = cProfile.Profile()
    profiles.append(profile)
    profile.enable()


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: python -m benchmarks.profiled OUT.pstats -m MODULE [ARGS...]")
    sys.argv = [module, *rest]
    # uvicorn re-raises the SIGTERM it stopped on once it has shut down: exit through
    # Python then, so the profiles are written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    main_profile = cProfile.Profile()
    threading.setprofile(_start_in_thread)
    main_profile.enable()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        main_profile.disable()
        stats = pstats.Stats(main_profile)
        for profile in profiles:
            stats.add(profile)
        stats.dump_stats(out)


if __name__ == "__main__":
    main()
