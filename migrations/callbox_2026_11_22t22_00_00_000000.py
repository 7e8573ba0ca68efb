"""Drop a redundant conversation index.

``callbox_conversation_their (their_address)`` is a prefix of
``callbox_conversation_their_activity``, which answers every lookup it did; every
conversation update (its last activity is indexed) wrote both.

(This migration also replaced the apply functions when they lived in migrations; their
current bodies are in app/callbox/store/sql/, applied after the migrations.)
"""

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

    async def apply() -> None:
        await run(STATEMENTS)

    async def roll_back() -> None:
        await run(ROLLBACK)

    manager.add_raw(apply)
    manager.add_raw_backwards(roll_back)
    return manager
