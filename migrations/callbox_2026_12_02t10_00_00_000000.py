"""Parts of long inbound messages: a provider that delivers a long SMS as several callbacks
(Vonage's SMS API: ``concat-ref``, ``concat-part``, ``concat-total``) gives one event per
part; each waits here until every part of its group is in, then
``callbox_apply_inbound_part`` (app/callbox/store/sql/) joins them into one message and sets
``message`` on each. A part goes with its raw request when that is purged (ON DELETE CASCADE),
and with its joined message.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-02T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "parts of long inbound messages"

STATEMENTS = [
    """
    CREATE TABLE callbox_message_part (
        id bigserial PRIMARY KEY,
        receiver varchar(64) NOT NULL,
        part_group text NOT NULL,
        part_number integer NOT NULL,
        part_count integer NOT NULL,
        event jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        notification bigint NOT NULL
            REFERENCES callbox_notification (id) ON DELETE CASCADE,
        message bigint REFERENCES callbox_message (id) ON DELETE CASCADE,
        CONSTRAINT callbox_message_part_number CHECK (part_number BETWEEN 1 AND part_count)
    )
    """,
    # The parts still waiting for the rest of their group.
    "CREATE INDEX callbox_message_part_waiting ON callbox_message_part"
    " (receiver, part_group, part_number) WHERE message IS NULL",
    # The foreign keys' deletes (purges) find the parts of a request or a message.
    "CREATE INDEX callbox_message_part_notification ON callbox_message_part (notification)",
    "CREATE INDEX callbox_message_part_message ON callbox_message_part (message)"
    " WHERE message IS NOT NULL",
]

ROLLBACK = ["DROP TABLE IF EXISTS callbox_message_part"]


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
