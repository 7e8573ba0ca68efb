"""Event log for live subscriptions: every applied change, in an order clients can resume.

Each applied event (a message received, a status reported, an outbound message recorded, an
opt-out) adds a row to ``callbox_event`` in the same transaction (``callbox_emit_event``, in
app/callbox/store/sql/), and ``callbox_ingest`` sends
``pg_notify('callbox_events', <notification id>)``, delivered to listeners only after commit. The row carries its transaction id (``xid8``): a reader takes rows whose transaction
id is below the oldest transaction still running (``pg_snapshot_xmin``), in (xid, id) order,
so no row can later appear before one it has already passed, whatever order transactions
commit in. That pair is the subscription cursor.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "event log and notifications for subscriptions"

STATEMENTS = [
    """
    CREATE TABLE callbox_event (
        id bigserial PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        kind varchar(16) NOT NULL,
        receiver varchar(64) NOT NULL,
        direction varchar(8),
        message bigint,
        status_event bigint,
        conversation bigint,
        opt_out bigint,
        address text,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX callbox_event_order ON callbox_event (xid, id)",
    "CREATE INDEX callbox_event_created ON callbox_event (created_at)",
    # callbox_record_opt_out now returns the ledger row's id (for the event that points at
    # it): a database that has the older function drops it, and the function files
    # (app/callbox/store/sql/) create the new one after the migrations.
    "DROP FUNCTION IF EXISTS callbox_record_opt_out",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create)
    return manager
