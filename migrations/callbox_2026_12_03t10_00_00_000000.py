"""Fewer indexes on the write path: every index a receipt writes serves a documented read
(docs/indexes.md maps each to its reads).

- ``callbox_message_identity`` becomes ``UNIQUE (provider_message_id, receiver, direction)``:
  the same key (``ON CONFLICT (receiver, direction, provider_message_id)`` infers it whatever
  the column order, and the lookups of a message by its identity give all three columns), now
  also the seek for ``messages(filter: {providerMessageId})`` without a receiver, which had
  an index of its own (``callbox_message_provider_message_id``, dropped).
- ``callbox_message_sender`` and ``callbox_message_recipient`` (an address, newest first) are
  dropped: messages by address now seek per receiver in ``callbox_message_receiver_sender`` /
  ``_recipient`` for every key; a key that sees every receiver seeks in each receiver that has
  messages (found with one index probe each), and the pages are merged.
- ``callbox_opt_out_address`` (address, id) is dropped: ``callbox_opt_out_address_occurred``
  (address, occurred_at, id) serves every read by address (``isOptedOut``, ``optOuts``).

So a new SMS message writes 9 entries in callbox_message's indexes instead of 12 (with a
reference; 8 and 11 without), primary key and identity included. Rebuilding the identity takes a lock on callbox_message for
as long as building one index takes (about a second per million messages).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "fewer indexes on the write path"

STATEMENTS = [
    "ALTER TABLE callbox_message DROP CONSTRAINT callbox_message_identity,"
    " ADD CONSTRAINT callbox_message_identity UNIQUE (provider_message_id, receiver, direction)",
    "DROP INDEX IF EXISTS callbox_message_provider_message_id",
    "DROP INDEX IF EXISTS callbox_message_sender",
    "DROP INDEX IF EXISTS callbox_message_recipient",
    "DROP INDEX IF EXISTS callbox_opt_out_address",
]

ROLLBACK = [
    "CREATE INDEX IF NOT EXISTS callbox_opt_out_address ON callbox_opt_out (address, id DESC)",
    "CREATE INDEX IF NOT EXISTS callbox_message_recipient ON callbox_message"
    " (recipient, occurred_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS callbox_message_sender ON callbox_message"
    " (sender, occurred_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS callbox_message_provider_message_id ON callbox_message"
    " (provider_message_id)",
    "ALTER TABLE callbox_message DROP CONSTRAINT callbox_message_identity,"
    " ADD CONSTRAINT callbox_message_identity UNIQUE (receiver, direction, provider_message_id)",
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
