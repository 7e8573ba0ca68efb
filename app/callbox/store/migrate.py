"""Bring a database up to date under a Postgres advisory lock (safe with replicas): Piccolo's
migrations (tables, indexes), then the SQL functions from ``store/sql/``."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator

import asyncpg

from callbox.db.engine import DB
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


async def run_migrations(database_url: str) -> str:
    """Apply pending migrations and the SQL functions; concurrent callers wait on the lock."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    lock_connection = await asyncpg.connect(database_url)
    try:
        await lock_connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
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
            dropped = await apply_sql_functions(lock_connection)
            if dropped:
                logger.info("migrations: dropped stale functions %s", ", ".join(dropped))
            logger.info("migrations: %s", result.message or "done")
            return output.getvalue()
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
        exists = await connection.fetchval("SELECT to_regclass('migration') IS NOT NULL")
        ran: set[str] = set()
        if exists:
            rows = await connection.fetch("SELECT name FROM migration WHERE app_name = 'callbox'")
            ran = {row["name"] for row in rows}
    finally:
        await connection.close()
    return sorted(known - ran)
