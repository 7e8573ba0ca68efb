"""The instance key: one random key per database, which seals the ids and cursors GraphQL
clients see (callbox.sealing), so every replica of an instance hands out the same ids.

The row is written on start (callbox.store.instance_key), not here: the key is made by the
application's random generator, and a database restored without it simply gets a new one
(ids and cursors handed out before then stop opening; nothing stored depends on them).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "instance key"

STATEMENTS = [
    """
    CREATE TABLE callbox_instance_key (
        id integer PRIMARY KEY CHECK (id = 1),
        key bytea NOT NULL CHECK (octet_length(key) = 32),
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """
]

ROLLBACK = ["DROP TABLE IF EXISTS callbox_instance_key"]


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
