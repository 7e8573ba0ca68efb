-- Apply stored requests' events (callbox_apply_events), in one transaction for the lot.
-- Only rows still PENDING are taken, locked as they are claimed, so a request is applied
-- once whichever process (its own, or another claiming a crashed one's) gets there first;
-- rows another transaction holds (reprocessing) are skipped and stay PENDING. Each row then
-- becomes ACCEPTED, or DUPLICATE when every event had been applied before. Listeners are
-- woken once for the lot (after commit).
CREATE OR REPLACE FUNCTION callbox_apply_pending(p_ids bigint[])
RETURNS TABLE (
    notification_id bigint, state text, received_at timestamptz, applied integer,
    duplicates integer, message_ids bigint[]
) LANGUAGE plpgsql AS $$
DECLARE
    r record;
    a record;
    v_any boolean := false;
BEGIN
    PERFORM callbox_lock_apply();
    FOR r IN
        SELECT n.id, n.receiver, n.provider, n.received_at, n.pending
        FROM callbox_notification n
        WHERE n.id = ANY(p_ids) AND n.state = 'PENDING'
        ORDER BY n.id
        FOR UPDATE SKIP LOCKED
    LOOP
        SELECT * INTO a FROM callbox_apply_events(
            r.receiver, r.provider, r.id, r.received_at, r.pending->>'our_address',
            r.pending->'events'
        );
        notification_id := r.id;
        received_at := r.received_at;
        applied := a.applied;
        duplicates := a.duplicates;
        message_ids := a.message_ids;
        state := CASE WHEN a.applied = 0 AND a.duplicates > 0 THEN 'DUPLICATE' ELSE 'ACCEPTED' END;
        UPDATE callbox_notification
        SET state = callbox_apply_pending.state, processed_at = clock_timestamp(), pending = NULL
        WHERE id = r.id;
        v_any := v_any OR a.applied > 0;
        RETURN NEXT;
    END LOOP;
    IF v_any THEN
        -- Listeners wake up after commit and read callbox_event from their cursor.
        PERFORM pg_notify('callbox_events', '');
    END IF;
END
$$;
