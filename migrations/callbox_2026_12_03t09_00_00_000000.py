"""Callbacks are acknowledged once stored and applied behind the acknowledgement.

The ingest writer stores a request (``callbox_notification``, written once) and, when it has
events, its parsed events in ``callbox_pending_apply``: the queue of work. An applier
(``callbox_apply_pending``, app/callbox/store/sql/) deletes the row in the transaction that
applies it, so the queue holds only what waits, and any process claims what a crashed one
left (oldest first, by ``received_at``). A request is ``PENDING`` while its row is there;
``DUPLICATE`` and ``FAILED`` (rare) are written on the request itself.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "acknowledge on the raw commit, apply behind it"

STATEMENTS = [
    """
    CREATE TABLE callbox_pending_apply (
        notification bigint PRIMARY KEY
            REFERENCES callbox_notification (id) ON DELETE CASCADE,
        receiver varchar(64) NOT NULL,
        provider varchar(32) NOT NULL,
        received_at timestamptz NOT NULL,
        our_address text,
        events jsonb NOT NULL
    )
    """,
    # `notifications(state: FAILED)`: the requests `callbox reprocess` should see.
    "CREATE INDEX callbox_notification_failed ON callbox_notification (receiver, id)"
    " WHERE state = 'FAILED'",
]

ROLLBACK = [
    "DROP INDEX IF EXISTS callbox_notification_failed",
    "DROP TABLE IF EXISTS callbox_pending_apply",
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
