"""Callbacks are acknowledged once stored and applied behind the acknowledgement.

A request the ingest writer stores waits in state ``PENDING`` with its parsed events in
``pending`` (``{"our_address": ..., "events": [...]}``) until an applier applies them
(``callbox_apply_pending``, app/callbox/store/sql/); the row then becomes ``ACCEPTED`` or
``DUPLICATE`` and ``pending`` is cleared, or ``FAILED`` with its reason (``pending`` kept for
``callbox reprocess``). The partial index finds what is waiting: any process claims a crashed
one's rows from it.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "acknowledge on the raw commit, apply behind it"

STATEMENTS = [
    "ALTER TABLE callbox_notification ADD COLUMN pending jsonb",
    "CREATE INDEX callbox_notification_pending ON callbox_notification (id)"
    " WHERE state IN ('PENDING', 'FAILED')",
]

ROLLBACK = [
    "DROP INDEX IF EXISTS callbox_notification_pending",
    "ALTER TABLE callbox_notification DROP COLUMN IF EXISTS pending",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def run(statements: list[str]) -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in statements:
            await engine.run_ddl(statement)

    async def apply() -> None:
        await run(STATEMENTS)

    async def roll_back() -> None:
        await run(ROLLBACK)

    manager.add_raw(apply)
    manager.add_raw_backwards(roll_back)
    return manager
