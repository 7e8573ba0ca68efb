CREATE OR REPLACE FUNCTION callbox_ingest(
    p_receiver text, p_provider text, p_received_at timestamptz, p_peer text,
    p_client text, p_method text, p_content_type text, p_headers jsonb, p_body bytea,
    p_body_size bigint, p_query_string text, p_our_address text, p_events jsonb,
    p_note text DEFAULT NULL,
    OUT notification_id bigint, OUT state text, OUT applied integer,
    OUT duplicates integer, OUT message_ids bigint[]
) LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO callbox_notification (
        receiver, provider, received_at, peer_address, client_address, method,
        content_type, headers, body, body_size, query_string, state, reason, event_count,
        processed_at
    ) VALUES (
        p_receiver, p_provider, p_received_at, p_peer, p_client, p_method, p_content_type,
        -- p_note: what the provider module did not apply, and why (NotApplied).
        p_headers, p_body, p_body_size, p_query_string, 'ACCEPTED', p_note,
        jsonb_array_length(p_events), clock_timestamp()
    ) RETURNING id INTO notification_id;
    SELECT a.applied, a.duplicates, a.message_ids INTO applied, duplicates, message_ids
    FROM callbox_apply_events(
        p_receiver, p_provider, notification_id, p_received_at, p_our_address, p_events
    ) AS a;
    state := 'ACCEPTED';
    IF applied > 0 THEN
        -- Listeners wake up after commit and read callbox_event from their cursor.
        PERFORM pg_notify('callbox_events', notification_id::text);
    END IF;
    IF applied = 0 AND duplicates > 0 THEN
        state := 'DUPLICATE';
        UPDATE callbox_notification SET state = 'DUPLICATE' WHERE id = notification_id;
    END IF;
END
$$;
