"""Drop ``callbox_conversation_their``: ``callbox_conversation_their_activity`` starts with
the same column (their_address, then last activity), so it answers every lookup the shorter
one did. Each conversation update (its last activity is indexed, so never a HOT update)
writes one index entry fewer without it."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "drop a redundant conversation index"

STATEMENTS = ["DROP INDEX IF EXISTS callbox_conversation_their"]

ROLLBACK = [
    "CREATE INDEX IF NOT EXISTS callbox_conversation_their ON callbox_conversation (their_address)"
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def run(statements: list[str]) -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in statements:
            await engine.run_ddl(statement)

    async def drop_index() -> None:
        await run(STATEMENTS)

    async def restore_index() -> None:
        await run(ROLLBACK)

    manager.add_raw(drop_index)
    manager.add_raw_backwards(restore_index)
    return manager
