"""Bring a database up to date under a Postgres advisory lock (safe with replicas): Piccolo's
migrations (tables, indexes), then the SQL functions from ``store/sql/``."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg

from callbox.db.engine import DB
from callbox.db.reach import connect
from callbox.store.sql_functions import apply_sql_functions

logger = logging.getLogger(__name__)

# An arbitrary constant shared by every Callbox process: "callbox" in ASCII.
MIGRATION_LOCK_KEY = 0x63616C6C626F78


class MigrationError(RuntimeError):
    pass


@contextlib.contextmanager
def _callbox_piccolo_conf() -> Iterator[None]:
    """Piccolo's migration runner finds its engine through PICCOLO_CONF; point it at ours."""
    previous = os.environ.get("PICCOLO_CONF")
    os.environ["PICCOLO_CONF"] = "callbox.store.piccolo_conf"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("PICCOLO_CONF", None)
        else:
            os.environ["PICCOLO_CONF"] = previous


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """What :func:`run_migrations` did."""

    applied: list[str]
    """Ids of the migrations this call applied (empty: the tables were current)."""
    functions: int
    """SQL functions created or replaced (all of them, every time)."""
    dropped: list[str]
    """Signatures of stale functions dropped."""
    piccolo_output: str
    """What Piccolo's runner printed (for debugging; it contradicts itself on an empty
    database, so it is not what Callbox reports)."""

    def describe(self) -> str:
        if self.applied:
            plural = "s" if len(self.applied) != 1 else ""
            text = f"applied {len(self.applied)} migration{plural} ({', '.join(self.applied)})"
        else:
            text = "no migration was pending"
        text += f"; {self.functions} SQL functions applied"
        if self.dropped:
            text += f", {len(self.dropped)} stale ones dropped ({', '.join(self.dropped)})"
        return text + "; the database is up to date"


_APPLIED = "SELECT name FROM migration WHERE app_name = 'callbox'"


async def _applied_migrations(connection: asyncpg.Connection[asyncpg.Record]) -> set[str]:
    """Ids of the migrations the database records as applied."""
    if not await connection.fetchval("SELECT to_regclass('migration') IS NOT NULL"):
        return set()
    return {row["name"] for row in await connection.fetch(_APPLIED)}


async def run_migrations(database_url: str, *, connect_timeout: float = 60) -> MigrationReport:
    """Apply pending migrations and the SQL functions; concurrent callers wait on the lock.

    Raises:
        DatabaseUnreachable: no connection could be opened (refused, no such database...).
    """
    from piccolo.apps.migrations.commands.forwards import run_forwards

    lock_connection = await connect(database_url, connect_timeout=connect_timeout)
    try:
        await lock_connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            before = await _applied_migrations(lock_connection)
            previous_config = DB.config
            DB.config = {"dsn": database_url}
            output = io.StringIO()
            try:
                with _callbox_piccolo_conf(), contextlib.redirect_stdout(output):
                    result = await run_forwards(app_name="callbox")
            finally:
                DB.config = previous_config
            if not result.success:
                raise MigrationError(f"migrations failed: {result.message}")
            applied = sorted(await _applied_migrations(lock_connection) - before)
            functions, dropped = await apply_sql_functions(lock_connection)
            report = MigrationReport(
                applied=applied,
                functions=functions,
                dropped=dropped,
                piccolo_output=output.getvalue(),
            )
            logger.info("migrations: %s", report.describe())
            return report
        finally:
            await lock_connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await lock_connection.close()


async def pending_migrations(database_url: str) -> list[str]:
    """Migration ids not yet applied (used by /ready)."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager

    from callbox.store.migrations_path import migrations_folder

    manager = BaseMigrationManager()
    known = set(manager.get_migration_modules(str(migrations_folder())))
    connection = await asyncpg.connect(database_url)
    try:
        ran = await _applied_migrations(connection)
    finally:
        await connection.close()
    return sorted(known - ran)
