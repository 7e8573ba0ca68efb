"""The queue of requests waiting to be applied is vacuumed as it churns.

``callbox_pending_apply`` holds few rows at any time, but every acknowledged request inserts
one and its application deletes it, so dead rows pile up at the head of the queue that the
claim round and the backlog count read in arrival order. PostgreSQL's default (vacuum once
dead rows pass 20 % of the table plus 50) is tuned for large tables; for a queue, vacuum
after 1,000 dead rows, without cost-based pauses (the table is small). Measured: after
600,000 callbacks on a server with autovacuum off, the table had 590,000 dead rows and a
60-second sustained run at a rate that had passed before failed (docs/benchmarks.md).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-04T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "vacuum the apply queue as it churns"

STATEMENTS = [
    "ALTER TABLE callbox_pending_apply SET (autovacuum_vacuum_scale_factor = 0,"
    " autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0)",
]

ROLLBACK = [
    "ALTER TABLE callbox_pending_apply RESET (autovacuum_vacuum_scale_factor,"
    " autovacuum_vacuum_threshold, autovacuum_vacuum_cost_delay)",
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
