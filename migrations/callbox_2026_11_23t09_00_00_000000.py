"""Messages remember when Callbox received them, and retention counts from that.

``callbox_message.received_at`` is when Callbox first learnt of the message: the arrival of
the first request that told of it (a reprocessed request keeps its own arrival time), or the
``recordOutboundMessage`` that recorded it. It is set once and never updated. The purge of
normalised data picks messages by it (``callbox_message_receiver_received``), not by the
provider's ``occurred_at``: a receipt dated 2017 that arrives today is kept for the whole
retention.

Existing messages take the arrival of their first status event (every received message has
one), else their ``created_at`` (a recorded message's record time). This rewrites the table
once.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "messages' received_at, for retention"

STATEMENTS = [
    "ALTER TABLE callbox_message ADD COLUMN received_at timestamptz",
    """
    UPDATE callbox_message AS m SET received_at = COALESCE(
        (SELECT min(e.received_at) FROM callbox_status_event AS e WHERE e.message = m.id),
        m.created_at
    )
    """,
    "ALTER TABLE callbox_message ALTER COLUMN received_at SET DEFAULT now()",
    "ALTER TABLE callbox_message ALTER COLUMN received_at SET NOT NULL",
    "CREATE INDEX callbox_message_receiver_received ON callbox_message (receiver, received_at)",
]

ROLLBACK = [
    "DROP INDEX IF EXISTS callbox_message_receiver_received",
    "ALTER TABLE callbox_message DROP COLUMN IF EXISTS received_at",
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
