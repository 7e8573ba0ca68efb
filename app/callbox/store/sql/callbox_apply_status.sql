CREATE OR REPLACE FUNCTION callbox_apply_status(
    p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
    p_our_address text, e jsonb
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_status text := e->>'status';
    v_at timestamptz := (e->>'occurred_at')::timestamptz;
    v_created timestamptz := (e->>'created_at')::timestamptz;
    v_sent timestamptz := (e->>'sent_at')::timestamptz;
    m record;
    v_status_event bigint;
    v_conversation bigint;
    v_sender text := COALESCE(e->>'sender', p_our_address);
    v_known bigint;
    -- Only a delivery status changes the message's status. Any other report (a deferral,
    -- an open, a click, a complaint, an unsubscribe) is kept in the history; its status is
    -- only what it implies, for a message first known from it, and gets no status time so
    -- that the first status a provider reports takes over.
    v_report text := COALESCE(e->>'report', 'STATUS');
    v_changes boolean := COALESCE(e->>'report', 'STATUS') = 'STATUS';
    v_first_at timestamptz := COALESCE((e->>'occurred_at')::timestamptz, p_received_at);
BEGIN
    -- The thread it belongs in, when it exists already: a new message is inserted in
    -- it at once, rather than inserted and then updated (which rewrites every index).
    IF e->>'recipient' IS NOT NULL THEN
        v_known := callbox_find_conversation(e->>'channel', v_sender, e->>'recipient');
    END IF;
    INSERT INTO callbox_message AS cm (
        provider, receiver, provider_message_id, direction, channel, sender, recipient,
        body, status, provider_status, failure_reason, reference, status_occurred_at,
        created_at, sent_at, delivered_at, updated_at, occurred_at, received_at, metadata,
        is_test, conversation, subject, opened_at, clicked_at
    ) VALUES (
        p_provider, p_receiver, e->>'provider_message_id', 'OUTBOUND', e->>'channel',
        v_sender, e->>'recipient', e->>'body', v_status,
        e->>'provider_status', e->>'failure_reason', e->>'reference',
        CASE WHEN v_changes THEN v_at END,
        COALESCE(v_created, p_received_at), v_sent,
        CASE WHEN v_changes AND v_status = 'DELIVERED' THEN COALESCE(v_at, p_received_at) END,
        p_received_at, COALESCE(v_sent, v_created, v_at, p_received_at), p_received_at,
        COALESCE(e->'metadata', '{}'), COALESCE((e->>'is_test')::boolean, false), v_known,
        e->>'subject',
        CASE WHEN v_report = 'OPENED' THEN v_first_at END,
        CASE WHEN v_report = 'CLICKED' THEN v_first_at END
    )
    ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
        sender = COALESCE(cm.sender, excluded.sender),
        recipient = COALESCE(cm.recipient, excluded.recipient),
        body = COALESCE(cm.body, excluded.body),
        subject = COALESCE(cm.subject, excluded.subject),
        reference = COALESCE(cm.reference, excluded.reference),
        sent_at = COALESCE(cm.sent_at, excluded.sent_at),
        metadata = cm.metadata || excluded.metadata,
        is_test = cm.is_test OR excluded.is_test,
        updated_at = excluded.updated_at,
        -- The first open and click reported, whatever order reports arrive in.
        opened_at = LEAST(cm.opened_at, excluded.opened_at),
        clicked_at = LEAST(cm.clicked_at, excluded.clicked_at),
        status = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.status ELSE cm.status END,
        provider_status = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.provider_status ELSE cm.provider_status END,
        failure_reason = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.failure_reason ELSE cm.failure_reason END,
        delivered_at = CASE WHEN excluded.status = 'DELIVERED' AND v_changes
                AND callbox_status_takes_over(
                    cm.status, cm.status_occurred_at, excluded.status,
                    excluded.status_occurred_at)
            THEN excluded.delivered_at ELSE cm.delivered_at END,
        status_occurred_at = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.status_occurred_at ELSE cm.status_occurred_at END
    RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at,
        cm.xmax = 0 AS inserted
    INTO m;
    INSERT INTO callbox_status_event (
        message, status, provider_status, failure_reason, occurred_at, received_at,
        notification, is_test, kind, bounce_type, detail
    ) VALUES (
        m.id, v_status, e->>'provider_status', e->>'failure_reason', v_at, p_received_at,
        p_notification, COALESCE((e->>'is_test')::boolean, false), v_report,
        e->>'bounce_type', e->>'detail'
    ) RETURNING id INTO v_status_event;
    v_conversation := callbox_thread_message(
        m.id, m.inserted, m.conversation, m.channel, m.sender, m.recipient, m.occurred_at,
        NULL);
    -- Subscribers are told what it is: a status, or a report that changes no status.
    PERFORM callbox_emit_event(
        CASE WHEN v_changes THEN 'STATUS_CHANGED' ELSE 'REPORTED' END, p_receiver,
        'OUTBOUND', m.id, v_status_event, v_conversation, NULL, m.recipient);
    RETURN m.id;
END
$$;
