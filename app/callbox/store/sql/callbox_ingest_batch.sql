CREATE OR REPLACE FUNCTION callbox_ingest_batch(p_items jsonb, p_bodies bytea[])
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
            item->>'query_string', item->>'our_address', item->'events', item->>'note'
        );
        notification_id := r.notification_id;
        state := r.state;
        applied := r.applied;
        duplicates := r.duplicates;
        message_ids := r.message_ids;
        RETURN NEXT;
    END LOOP;
END
$$;
