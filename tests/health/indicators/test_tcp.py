"""TcpIndicator against loopback sockets only."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from actuator import Status, TcpIndicator


@pytest.fixture
def listening() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listener that never accepts, its accept queue filled: Linux drops further SYNs,
    so a new connect neither succeeds nor is refused until the client gives up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for filler in fillers:
            filler.close()
        server.close()


async def test_up_when_something_listens(listening: int) -> None:
    health = await TcpIndicator("127.0.0.1", listening).health()
    assert health.status == Status.UP
    assert health.details["host"] == "127.0.0.1"
    assert health.details["port"] == listening
    assert 0 <= health.details["elapsedSeconds"] < 5


async def test_down_when_the_connection_is_refused() -> None:
    # Bound but not listening: the kernel refuses, and no one else can take the port.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    try:
        health = await TcpIndicator("127.0.0.1", holder.getsockname()[1]).health()
    finally:
        holder.close()
    assert health.status == Status.DOWN
    assert health.details["error"].startswith("ConnectionRefusedError")


async def test_down_when_no_connection_opens_in_time(full_backlog: int) -> None:
    health = await TcpIndicator("127.0.0.1", full_backlog, timeout=0.2).health()
    assert health.status == Status.DOWN
    assert health.details["error"] == "TimeoutError: no connection within 0.2s"
    assert health.details["elapsedSeconds"] < 3


async def test_timeout_covers_a_connect_that_never_completes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cancelled = asyncio.Event()

    async def never(*args: Any, **kwargs: Any) -> Any:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    monkeypatch.setattr(asyncio, "open_connection", never)
    health = await TcpIndicator("localhost", 5432, timeout=0.05).health()
    assert health.status == Status.DOWN
    assert health.details["error"] == "TimeoutError: no connection within 0.05s"
    assert cancelled.is_set()  # the attempt is abandoned, not left running


async def test_the_connection_is_closed_at_once(listening: int) -> None:
    closed = asyncio.Event()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await reader.read() == b"":  # EOF: the indicator closed without sending
            closed.set()
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        assert (await TcpIndicator("127.0.0.1", port).health()).status == Status.UP
        await asyncio.wait_for(closed.wait(), 5)


@pytest.mark.parametrize(
    ("args", "kwargs", "named"),
    [
        (("", 80), {}, "host"),
        (("local host", 80), {}, "host"),
        ((None, 80), {}, "host"),
        (("127.0.0.1", 0), {}, "port"),
        (("127.0.0.1", 65536), {}, "port"),
        (("127.0.0.1", "80"), {}, "port"),
        (("127.0.0.1", True), {}, "port"),
        (("127.0.0.1", 80), {"timeout": -1}, "timeout"),
        (("127.0.0.1", 80), {"timeout": float("inf")}, "timeout"),
    ],
)
def test_bad_configuration_raises_naming_the_parameter(
    args: tuple[Any, ...], kwargs: dict[str, Any], named: str
) -> None:
    with pytest.raises(ValueError, match=f"TcpIndicator {named}"):
        TcpIndicator(*args, **kwargs)
