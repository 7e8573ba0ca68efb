-- The acknowledgement: store a batch of raw requests with their parsed events, in one
-- statement (the ingest writer's group commit). A request with events waits as PENDING,
-- its events in `pending`, until callbox_apply_pending applies them; one without events
-- has nothing to wait for and is ACCEPTED at once.
CREATE OR REPLACE FUNCTION callbox_accept_batch(p_items jsonb, p_bodies bytea[])
RETURNS TABLE (ordinal integer, notification_id bigint, state text)
LANGUAGE plpgsql AS $$
DECLARE
    item jsonb;
    v_count integer;
BEGIN
    ordinal := 0;
    FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
        ordinal := ordinal + 1;
        v_count := jsonb_array_length(item->'events');
        state := CASE WHEN v_count > 0 THEN 'PENDING' ELSE 'ACCEPTED' END;
        INSERT INTO callbox_notification (
            receiver, provider, received_at, peer_address, client_address, method,
            content_type, headers, body, body_size, query_string, state, event_count,
            processed_at, pending
        ) VALUES (
            item->>'receiver', item->>'provider', (item->>'received_at')::timestamptz,
            item->>'peer', item->>'client', item->>'method', item->>'content_type',
            item->'headers', p_bodies[ordinal], (item->>'body_size')::bigint,
            item->>'query_string', state, v_count,
            CASE WHEN v_count = 0 THEN clock_timestamp() END,
            CASE WHEN v_count > 0 THEN
                jsonb_build_object('our_address', item->'our_address', 'events', item->'events')
            END
        ) RETURNING id INTO notification_id;
        RETURN NEXT;
    END LOOP;
END
$$;
