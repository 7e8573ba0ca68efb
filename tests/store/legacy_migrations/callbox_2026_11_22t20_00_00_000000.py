"""Indexes for `callbox purge`: batches find their rows, and foreign keys their referrers,
without scanning whole tables."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "purge indexes"

STATEMENTS = [
    # Deleting a message sets callbox_opt_out.message to NULL; without this index each
    # deleted message would scan the whole opt-out ledger.
    "CREATE INDEX callbox_opt_out_message ON callbox_opt_out (message) WHERE message IS NOT NULL",
    # The purge picks a receiver's messages older than a cutoff. The GraphQL migration
    # creates the same index for its filters; this keeps the purge fast without it.
    "CREATE INDEX IF NOT EXISTS callbox_message_receiver_occurred"
    " ON callbox_message (receiver, occurred_at DESC, id DESC)",
]

ROLLBACK = [
    # callbox_message_receiver_occurred may belong to the GraphQL migration: left in place.
    "DROP INDEX callbox_opt_out_message",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def create_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def drop_indexes() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in ROLLBACK:
            await engine.run_ddl(statement)

    manager.add_raw(create_indexes)
    manager.add_raw_backwards(drop_indexes)
    return manager
