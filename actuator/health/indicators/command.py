"""The command indicator: UP when a command exits with an expected code."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Container, Mapping, Sequence

from actuator.health.result import Health

_OUTPUT_LIMIT = 512


class CommandIndicator:
    """Runs ``command`` (no shell) and reports UP when it exits with an expected code.

    For checks that already exist as scripts (``pg_isready``, ``redis-cli ping``,
    a Nagios plugin). The command runs in its own process group, which is
    killed on timeout or when the health check is cancelled. Details:
    ``command`` (the program name only, arguments may hold secrets),
    ``exitCode``, ``elapsedSeconds`` and ``output`` (the last 512 characters of
    stdout and stderr, unless ``show_output=False``)::

        actuator.add_indicator("postgres", CommandIndicator(["pg_isready", "-h", "db"]),
                               groups=["readiness"], timeout=2.0)

    Parameters:
        command: the program and its arguments, as a list.
        timeout: seconds before the command is killed and DOWN. Default 0.4;
            raise the indicator's own ``timeout`` along with it.
        expected: exit codes that mean UP. Default ``(0,)``.
        cwd: working directory. Default: the current one.
        env: extra environment variables for the command.
        show_output: include the output tail in details. Default True.
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        timeout: float = 0.4,
        expected: Container[int] = (0,),
        cwd: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        show_output: bool = True,
    ) -> None:
        if (
            isinstance(command, str)
            or not command
            or not all(isinstance(part, str) for part in command)
        ):
            raise ValueError(f"command must be a non-empty list of strings, got {command!r}")
        if isinstance(timeout, bool) or not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout!r}")
        self.command = list(command)
        self.timeout = timeout
        self.expected = expected
        self.cwd = cwd
        self.env = {**os.environ, **env} if env else None
        self.show_output = show_output

    async def health(self) -> Health:
        details: dict[str, object] = {"command": os.path.basename(self.command[0])}
        started = time.perf_counter()
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=self.cwd,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            return Health.down(exc, **details)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            await _kill(process)
            details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
            return Health.down(
                f"TimeoutError: command did not finish within {self.timeout:g}s", **details
            )
        except BaseException:
            await _kill(process)  # cancelled by the checker's own timeout
            raise
        code = process.returncode
        details["exitCode"] = code
        details["elapsedSeconds"] = round(time.perf_counter() - started, 6)
        if self.show_output:
            details["output"] = output.decode("utf-8", "replace")[-_OUTPUT_LIMIT:].strip()
        if code is None or code not in self.expected:
            return Health.down(f"exit code {code}", **details)
        return Health.up(**details)


async def _kill(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(Exception):
        await asyncio.shield(process.wait())
