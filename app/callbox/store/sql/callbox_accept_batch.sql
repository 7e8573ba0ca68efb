-- The acknowledgement: store a batch of raw requests, in one statement (the ingest
-- writer's group commit). The request row is written once; a request with events also puts
-- them in callbox_pending_apply, where they wait for callbox_apply_pending (the request is
-- PENDING meanwhile). `state` says which: PENDING, or ACCEPTED for a request without events.
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
        INSERT INTO callbox_notification (
            receiver, provider, received_at, peer_address, client_address, method,
            content_type, headers, body, body_size, query_string, state, reason, event_count,
            processed_at
        ) VALUES (
            item->>'receiver', item->>'provider', (item->>'received_at')::timestamptz,
            item->>'peer', item->>'client', item->>'method', item->>'content_type',
            item->'headers', p_bodies[ordinal], (item->>'body_size')::bigint,
            -- note: what the provider module did not apply, and why (NotApplied).
            item->>'query_string', 'ACCEPTED', item->>'note', v_count, clock_timestamp()
        ) RETURNING id INTO notification_id;
        IF v_count > 0 THEN
            INSERT INTO callbox_pending_apply (
                notification, receiver, provider, received_at, our_address, events
            ) VALUES (
                notification_id, item->>'receiver', item->>'provider',
                (item->>'received_at')::timestamptz, item->>'our_address', item->'events'
            );
            state := 'PENDING';
        ELSE
            state := 'ACCEPTED';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
