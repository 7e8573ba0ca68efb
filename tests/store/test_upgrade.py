"""A database made by the migrations as they were before the store package (function
bodies inside migrations) upgrades to today's schema: same tables, indexes and functions as a
database migrated from scratch.

tests/store/legacy_migrations/ keeps only the migrations that changed or went away since
(16:00, 17:00, 21:00, 22:00); the others are read from migrations/, where they are as they
were."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from callbox.db.engine import DB
from callbox.store import piccolo_app
from callbox.store.migrate import _callbox_piccolo_conf, run_migrations
from callbox.store.schema_dump import dump_schema

LEGACY = Path(__file__).resolve().parent / "legacy_migrations"
CURRENT = Path(__file__).resolve().parents[2] / "migrations"


LEGACY_LAST = "callbox_2026_11_22t22_00_00_000000.py"
"""The newest migration of 1d4fa21; later ones are new since, and the upgrade applies them."""


def _legacy_folder(folder: Path) -> Path:
    """Today's unchanged migrations plus the legacy versions of the others, in one folder;
    none of the migrations written since."""
    folder.mkdir()
    for source in (CURRENT, LEGACY):  # legacy second: its versions replace today's
        for path in source.glob("callbox_*.py"):
            if path.name <= LEGACY_LAST:
                shutil.copyfile(path, folder / path.name)
    return folder


@contextmanager
def _fresh_migration_modules() -> Iterator[None]:
    """Piccolo imports migrations by module name; both folders use the same names."""

    def forget() -> None:
        for name in [name for name in sys.modules if name.startswith("callbox_2026")]:
            del sys.modules[name]

    forget()
    try:
        yield
    finally:
        forget()


async def _migrate_with_legacy_migrations(
    url: str, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `callbox migrate` did before this change: Piccolo's migrations only."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    monkeypatch.setattr(piccolo_app.APP_CONFIG, "migrations_folder_path", str(folder))
    previous = DB.config
    DB.config = {"dsn": url}
    try:
        with _fresh_migration_modules(), _callbox_piccolo_conf():
            result = await run_forwards(app_name="callbox")
        assert result.success, result.message
    finally:
        DB.config = previous
        monkeypatch.undo()


async def _dump(url: str) -> str:
    connection = await asyncpg.connect(url)
    try:
        return await dump_schema(connection)
    finally:
        await connection.close()


async def test_a_database_of_the_legacy_migrations_upgrades_to_todays_schema(
    create_database: object,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url: str = await create_database()  # type: ignore[operator]
    legacy = _legacy_folder(tmp_path / "legacy_migrations")
    assert len(list(legacy.glob("*.py"))) == 7  # the seven migrations of 1d4fa21
    await _migrate_with_legacy_migrations(url, legacy, monkeypatch)
    legacy = await _dump(url)
    assert "callbox_apply_status" in legacy
    assert "callbox_thread_message" not in legacy  # the legacy schema really is the old one

    with _fresh_migration_modules():
        await run_migrations(url)

    assert await _dump(url) == await _dump(database_url)


async def test_messages_stored_before_received_at_take_their_first_arrival(
    create_database: object, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A received message takes its first status event's arrival, not the provider's dates;
    a message only recorded (no status event) its record time (``created_at``)."""
    url: str = await create_database()  # type: ignore[operator]
    await _migrate_with_legacy_migrations(url, _legacy_folder(tmp_path / "legacy"), monkeypatch)
    recorded_at = datetime(2026, 11, 20, tzinfo=UTC)
    connection = await asyncpg.connect(url)
    try:
        insert = """
            INSERT INTO callbox_message (provider, receiver, provider_message_id, direction,
                channel, status, created_at, updated_at, occurred_at)
            VALUES ('notify', 'notify', $1, 'OUTBOUND', 'SMS', $2, $3, now(), $3)
            RETURNING id"""
        dated = datetime(2017, 5, 14, tzinfo=UTC)
        received = await connection.fetchval(insert, "receipts", "DELIVERED", dated)
        for days in (40, 39):
            await connection.execute(
                "INSERT INTO callbox_status_event (message, status, received_at)"
                " VALUES ($1, 'SENT', now() - make_interval(days => $2))",
                received,
                days,
            )
        await connection.fetchval(insert, "recorded", "PENDING", recorded_at)
        await run_migrations(url)
        rows = await connection.fetch(
            "SELECT provider_message_id, received_at FROM callbox_message ORDER BY id"
        )
        first_arrival = await connection.fetchval(
            "SELECT min(received_at) FROM callbox_status_event"
        )
    finally:
        await connection.close()
    assert [tuple(row) for row in rows] == [
        ("receipts", first_arrival),
        ("recorded", recorded_at),
    ]


async def test_functions_no_longer_defined_are_dropped(database_url: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(
            "CREATE FUNCTION callbox_left_behind(integer) RETURNS integer"
            " LANGUAGE sql AS 'SELECT $1'"
        )
    finally:
        await connection.close()
    await run_migrations(database_url)
    connection = await asyncpg.connect(database_url)
    try:
        assert await connection.fetchval("SELECT to_regproc('callbox_left_behind')") is None
    finally:
        await connection.close()
