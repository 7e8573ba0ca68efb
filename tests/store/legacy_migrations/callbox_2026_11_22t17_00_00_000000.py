"""Group commit: several callbacks stored and applied by one statement, one transaction.

Concurrent callbacks queue up while a statement is running; the next statement takes them
all. Each callback still gets its own notification row and outcome, and none is answered
before the statement (and so its transaction) has committed.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T17:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ingest batches"

CREATE = """
CREATE FUNCTION callbox_ingest_batch(p_items jsonb, p_bodies bytea[])
RETURNS TABLE (
    ordinal integer, notification_id bigint, state text, applied integer,
    duplicates integer, message_ids bigint[]
) LANGUAGE plpgsql AS $$
DECLARE
    item jsonb;
    r record;
BEGIN
    ordinal := 0;
    FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
        ordinal := ordinal + 1;
        SELECT * INTO r FROM callbox_ingest(
            item->>'receiver', item->>'provider', (item->>'received_at')::timestamptz,
            item->>'peer', item->>'client', item->>'method', item->>'content_type',
            item->'headers', p_bodies[ordinal], (item->>'body_size')::bigint,
            item->>'query_string', item->>'our_address', item->'events'
        );
        notification_id := r.notification_id;
        state := r.state;
        applied := r.applied;
        duplicates := r.duplicates;
        message_ids := r.message_ids;
        RETURN NEXT;
    END LOOP;
END
$$
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def create_function() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl(CREATE)

    async def drop_function() -> None:
        engine = engine_finder()
        assert engine is not None
        await engine.run_ddl("DROP FUNCTION callbox_ingest_batch")

    manager.add_raw(create_function)
    manager.add_raw_backwards(drop_function)
    return manager
