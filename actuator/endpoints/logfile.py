"""The logfile endpoint: the app's log file, whole or in byte ranges, streamed.

Which file: ``logfile.path`` when set, else the file of the first
``logging.FileHandler`` (rotating ones included) on the root logger, then on
any other logger. Nothing else is ever served: the endpoint takes no path
and no file name from the request, and serves regular files only.

Spring Boot Admin's log view polls it with ``Range`` headers: first
``bytes=-307200`` (the last 300 KiB), then ``bytes=<bytes seen>-``. A single
range (``bytes=N-``, ``bytes=-N``, ``bytes=a-b``) is answered 206 with
``Content-Range``; a range starting at or past the end is 416 with
``Content-Range: bytes */<size>``; a malformed Range header or several
ranges is 400.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, ClassVar

from actuator.endpoints.base import Endpoint as _Endpoint
from actuator.endpoints.base import (
    EndpointError,
    EndpointResponse,
    NotFound,
    OperationRequest,
)

TEXT = "text/plain"
CHUNK = 64 * 1024
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d{0,20})\s*-\s*(\d{0,20})\s*\Z", re.IGNORECASE)


class RangeNotSatisfiable(EndpointError):
    status = 416


def handler_log_file(root: logging.Logger | None = None) -> Path | None:
    """The file of the first ``logging.FileHandler`` writing a regular file (``/dev/null`` is
    no log file): on the root logger, then on any other."""
    root = root or logging.getLogger()
    loggers: list[Any] = [root, *list(root.manager.loggerDict.values())]
    for candidate in loggers:
        for handler in list(getattr(candidate, "handlers", ())):
            if isinstance(handler, logging.FileHandler) and os.path.isfile(handler.baseFilename):
                return Path(handler.baseFilename)
    return None


def parse_range(header: str, size: int) -> tuple[int, int]:
    """``(first, last)`` byte positions (inclusive) of a single-range ``Range`` header.

    Raises ``EndpointError`` 400 for a malformed header or several ranges,
    ``RangeNotSatisfiable`` when the range does not overlap the file.
    """
    if "," in header:
        raise EndpointError(
            "Only a single byte range is supported in the Range header", status=400, header="Range"
        )
    match = _RANGE.match(header)
    if match is None or (not match[1] and not match[2]):
        raise EndpointError(
            f"Malformed Range header {header[:100]!r}; expected bytes=N-, bytes=-N or bytes=A-B",
            status=400,
            header="Range",
        )
    first_text, last_text = match[1], match[2]
    if not first_text:  # a suffix: the last N bytes
        length = int(last_text)
        if length == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - length), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        raise EndpointError(
            f"Malformed Range header {header[:100]!r}: the last byte comes before the first",
            status=400,
            header="Range",
        )
    if first >= size:
        raise _unsatisfiable(size)
    return first, min(int(last_text), size - 1) if last_text else size - 1


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(f"Range not satisfiable: the log file has {size} bytes", status=416)


class LogfileEndpoint(_Endpoint):
    """``GET /logfile``: ``text/plain``, with ``Range`` answered 206 (see the module docs).

    Parameters:
        configured: the ``logfile.path`` setting (``None``: find a FileHandler).
        find: how to find a handler's file (for tests).
    """

    name: ClassVar[str] = "logfile"
    max_path: ClassVar[int | None] = 0
    produces: ClassVar[tuple[str, ...]] = (TEXT,)

    def __init__(
        self, configured: Path | None, find: Callable[[], Path | None] = handler_log_file
    ) -> None:
        self.configured = configured
        self.find = find

    def path(self) -> Path | None:
        return self.configured if self.configured is not None else self.find()

    def available(self) -> bool:
        """Listed in discovery only with a log file to show, as Spring Boot does."""
        return self.path() is not None

    async def read(self, request: OperationRequest) -> EndpointResponse:
        path = await asyncio.to_thread(self.path)
        if path is None:
            raise NotFound("No log file: set logfile.path or log to a logging.FileHandler")
        fd = await asyncio.to_thread(_open_regular, path)
        if fd is None:
            raise NotFound("The log file does not exist or is not a regular file")
        try:
            size = os.fstat(fd).st_size
            header = request.headers.get("range")
            if header is None:
                first, last, status = 0, size - 1, 200
                headers = {"Accept-Ranges": "bytes"}
            else:
                first, last = parse_range(header, size)
                status = 206
                headers = {
                    "Accept-Ranges": "bytes",
                    "Content-Range": f"bytes {first}-{last}/{size}",
                }
        except RangeNotSatisfiable as exc:
            os.close(fd)
            exc.extra["headers"] = {"Content-Range": f"bytes */{size}"}
            raise
        except BaseException:
            os.close(fd)
            raise
        length = last - first + 1
        headers["Content-Length"] = str(length)
        return EndpointResponse(
            FileRange(fd, first, length),
            status=status,
            headers=headers,
            media_type="text/plain; charset=utf-8",
        )


def _open_regular(path: Path) -> int | None:
    """A descriptor of ``path`` if it is a regular file (never a FIFO or device, which could
    block or never end), else ``None``."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


class FileRange:
    """``length`` bytes of an open file from ``offset``, read in a thread chunk by chunk.

    Owns the descriptor: iterating to the end or ``aclose()`` closes it (the
    handler calls ``aclose()`` whatever happens, a HEAD request included).
    """

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self._fd: int | None = fd
        self.offset = offset
        self.length = length

    async def __aiter__(self) -> AsyncIterator[bytes]:
        offset, length = self.offset, self.length
        try:
            while length > 0 and self._fd is not None:
                chunk = await asyncio.to_thread(os.pread, self._fd, min(CHUNK, length), offset)
                if not chunk:
                    return  # truncated meanwhile (log rotation): the answer ends short
                offset += len(chunk)
                length -= len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
