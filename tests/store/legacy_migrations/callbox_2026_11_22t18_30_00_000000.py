"""Indexes for the GraphQL API's filters and keyset pages (newest first: time DESC, id DESC)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T18:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "graphql indexes"

STATEMENTS = [
    # messages(filter: {receiver}) and every query of a key confined to some receivers; also
    # the walk that orders a confined key's conversations by their newest visible message.
    "CREATE INDEX callbox_message_receiver_occurred"
    " ON callbox_message (receiver, occurred_at DESC, id DESC)",
    # messages(filter: {address}) for a confined key: a seek per receiver and side, however
    # few of the address's messages the key may see.
    "CREATE INDEX callbox_message_receiver_sender"
    " ON callbox_message (receiver, sender, occurred_at DESC, id DESC)",
    "CREATE INDEX callbox_message_receiver_recipient"
    " ON callbox_message (receiver, recipient, occurred_at DESC, id DESC)",
    "CREATE INDEX callbox_message_provider_message_id ON callbox_message (provider_message_id)",
    "CREATE INDEX callbox_message_reference ON callbox_message (reference)"
    " WHERE reference IS NOT NULL",
    # conversations(filter: {address}), one seek per side.
    "CREATE INDEX callbox_conversation_our_activity"
    " ON callbox_conversation (our_address, last_activity_at DESC, id DESC)",
    "CREATE INDEX callbox_conversation_their_activity"
    " ON callbox_conversation (their_address, last_activity_at DESC, id DESC)",
    "CREATE INDEX callbox_opt_out_occurred ON callbox_opt_out (occurred_at DESC, id DESC)",
    "CREATE INDEX callbox_opt_out_address_occurred"
    " ON callbox_opt_out (address, occurred_at DESC, id DESC)",
]

ROLLBACK = [
    "DROP INDEX callbox_message_receiver_occurred",
    "DROP INDEX callbox_message_receiver_sender",
    "DROP INDEX callbox_message_receiver_recipient",
    "DROP INDEX callbox_message_provider_message_id",
    "DROP INDEX callbox_message_reference",
    "DROP INDEX callbox_conversation_our_activity",
    "DROP INDEX callbox_conversation_their_activity",
    "DROP INDEX callbox_opt_out_occurred",
    "DROP INDEX callbox_opt_out_address_occurred",
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
