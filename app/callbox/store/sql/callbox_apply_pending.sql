-- Apply stored requests' events (callbox_apply_events), in one transaction for the lot.
-- Each request's row in callbox_pending_apply is claimed (locked; rows another transaction
-- holds are skipped) and deleted by the transaction that applies it, so a request is applied
-- once whichever process gets there first. A request whose events had all been applied
-- before becomes DUPLICATE; the others stay ACCEPTED (as stored). Listeners are woken once
-- for the lot (after commit).
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
        WITH claimed AS (
            SELECT w.notification FROM callbox_pending_apply w
            WHERE w.notification = ANY(p_ids)
            ORDER BY w.notification
            FOR UPDATE SKIP LOCKED
        ), taken AS (
            DELETE FROM callbox_pending_apply w USING claimed c
            WHERE w.notification = c.notification
            RETURNING w.*
        )
        SELECT * FROM taken ORDER BY notification  -- in arrival order
    LOOP
        SELECT * INTO a FROM callbox_apply_events(
            r.receiver, r.provider, r.notification, r.received_at, r.our_address, r.events
        );
        notification_id := r.notification;
        received_at := r.received_at;
        applied := a.applied;
        duplicates := a.duplicates;
        message_ids := a.message_ids;
        state := 'ACCEPTED';
        IF a.applied = 0 AND a.duplicates > 0 THEN
            state := 'DUPLICATE';
            UPDATE callbox_notification SET state = 'DUPLICATE' WHERE id = r.notification;
        END IF;
        v_any := v_any OR a.applied > 0;
        RETURN NEXT;
    END LOOP;
    IF v_any THEN
        -- Listeners wake up after commit and read callbox_event from their cursor.
        PERFORM pg_notify('callbox_events', '');
    END IF;
END
$$;
