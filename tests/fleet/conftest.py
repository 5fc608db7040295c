from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from actuator.fleet.model import Grouping
from actuator.fleet.store import SqlStore, open_store
from tests.support.postgres import PostgresServer

_names = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session; each test gets its own database."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind: the store's tests run on both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database(f"fleet_{next(_names)}")


@pytest.fixture
def grouping() -> Grouping:
    return Grouping()


@pytest.fixture
async def store(database_url: str, grouping: Grouping) -> AsyncIterator[SqlStore]:
    opened = open_store(database_url, grouping)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
