"""E-mail: what a report is (a status, a deferral, an open, a click...), bounce types, subjects,
and when a message was first opened and clicked.

- ``callbox_status_event.kind``: ``STATUS`` for a delivery status (the only kind that may
  change the message's status); ``DEFERRED``, ``OPENED``, ``CLICKED``, ``COMPLAINED``,
  ``UNSUBSCRIBED`` are kept in the history beside it (callbox_apply_status).
  ``bounce_type`` (HARD, SOFT, BLOCKED, SUPPRESSED, UNDETERMINED) when the report is a
  bounce; ``detail``: what the provider said (an SMTP answer, the link clicked).
- ``callbox_message.subject`` (e-mail); ``opened_at`` / ``clicked_at``: the first open and
  click reported, so "opened" is a column test rather than a search of the history.

Existing rows are all delivery statuses: the default fills them without rewriting the table
(a constant default is stored in the catalogue).
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "e-mail: report kinds, bounce types, subjects, opens and clicks"

STATEMENTS = [
    "ALTER TABLE callbox_status_event ADD COLUMN kind varchar(16) NOT NULL DEFAULT 'STATUS'",
    "ALTER TABLE callbox_status_event ADD COLUMN bounce_type varchar(16)",
    "ALTER TABLE callbox_status_event ADD COLUMN detail text",
    "ALTER TABLE callbox_message ADD COLUMN subject text",
    "ALTER TABLE callbox_message ADD COLUMN opened_at timestamptz",
    "ALTER TABLE callbox_message ADD COLUMN clicked_at timestamptz",
    # messages(filter: {opened: true}) / {clicked: true}: pages newest first, from an index
    # holding only those messages.
    "CREATE INDEX callbox_message_opened ON callbox_message (occurred_at DESC, id DESC)"
    " WHERE opened_at IS NOT NULL",
    "CREATE INDEX callbox_message_clicked ON callbox_message (occurred_at DESC, id DESC)"
    " WHERE clicked_at IS NOT NULL",
    # messages(filter: {eventKind, bounceType}): the messages holding such a report, found
    # from the few reports that are not plain statuses.
    "CREATE INDEX callbox_status_event_kind ON callbox_status_event (kind, message)"
    " WHERE kind <> 'STATUS'",
    "CREATE INDEX callbox_status_event_bounce ON callbox_status_event (bounce_type, message)"
    " WHERE bounce_type IS NOT NULL",
]

ROLLBACK = [
    "DROP INDEX IF EXISTS callbox_status_event_bounce",
    "DROP INDEX IF EXISTS callbox_status_event_kind",
    "DROP INDEX IF EXISTS callbox_message_clicked",
    "DROP INDEX IF EXISTS callbox_message_opened",
    "ALTER TABLE callbox_message DROP COLUMN IF EXISTS clicked_at",
    "ALTER TABLE callbox_message DROP COLUMN IF EXISTS opened_at",
    "ALTER TABLE callbox_message DROP COLUMN IF EXISTS subject",
    "ALTER TABLE callbox_status_event DROP COLUMN IF EXISTS detail",
    "ALTER TABLE callbox_status_event DROP COLUMN IF EXISTS bounce_type",
    "ALTER TABLE callbox_status_event DROP COLUMN IF EXISTS kind",
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
