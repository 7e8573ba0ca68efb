"""Test fixtures: a real, fresh Postgres database per test session, migrated once.

Databases are made on the server named by CALLBOX_TEST_SERVER_URL (a URL of its maintenance
database), else on the PostgreSQL at 127.0.0.1:5432 when one answers, else on an embedded
PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from callbox.store.migrate import run_migrations
from tests.support import ACKNOWLEDGE_ENV, postgres_tmp_dir

# Most tests read what a callback did right after posting it: servers they start answer once
# the events are applied. Tests of the default (answer once stored) ask for it explicitly
# (tests/store/test_acknowledge.py).
os.environ.setdefault(ACKNOWLEDGE_ENV, "applied")

CALLBOX_TABLES = (
    "callbox_event",
    "callbox_applied_event",
    "callbox_status_event",
    "callbox_opt_out",
    "callbox_message",
    "callbox_conversation",
    "callbox_notification",
)


async def _server_answers(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await connection.close()
    return True


@pytest.fixture(scope="session")
def embedded_postgres_dir() -> Iterator[Path]:
    with postgres_tmp_dir() as path:
        yield path


@pytest.fixture
def pg_tmp_path() -> Iterator[Path]:
    """A temporary directory for embedded PostgreSQL data directories (``tmp_path`` is
    closed to the server's OS user when the tests run as root)."""
    with postgres_tmp_dir() as path:
        yield path


@pytest.fixture(scope="session")
async def server_url(embedded_postgres_dir: Path) -> AsyncIterator[str]:
    """A URL of a Postgres server's maintenance database, where test databases are made."""
    configured = os.environ.get("CALLBOX_TEST_SERVER_URL")
    if configured:
        yield configured
        return
    local = "postgresql://postgres@127.0.0.1:5432/postgres"
    if await _server_answers(local):
        yield local
        return
    from callbox.db.embedded import start_embedded_postgres

    embedded = start_embedded_postgres(embedded_postgres_dir / "pg")
    try:
        yield embedded.url.replace("/callbox?", "/postgres?")
    finally:
        embedded.stop()


def _with_database(url: str, database: str) -> str:
    head, _, tail = url.partition("?")
    base = head.rsplit("/", 1)[0]
    return f"{base}/{database}" + (f"?{tail}" if tail else "")


@pytest.fixture(scope="session")
async def create_database(server_url: str) -> AsyncIterator[object]:
    """Factory: a fresh, empty database on the test server (dropped at the end)."""
    made: list[str] = []

    async def create() -> str:
        name = f"callbox_test_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(server_url)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        made.append(name)
        return _with_database(server_url, name)

    yield create
    admin = await asyncpg.connect(server_url)
    try:
        for name in made:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_url(create_database: object) -> str:
    url: str = await create_database()  # type: ignore[operator]
    await run_migrations(url)
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the session database, emptied before the test."""
    connection = await asyncpg.connect(database_url)
    await connection.execute(f"TRUNCATE {', '.join(CALLBOX_TABLES)} RESTART IDENTITY CASCADE")
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture
def environ_guard() -> Iterator[None]:
    before = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(before)
