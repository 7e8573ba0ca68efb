-- An outbound message the sending application tells us about (recordOutboundMessage).
-- Same identity as receipts, (receiver, 'OUTBOUND', provider_message_id), so the record and
-- the provider's receipts land on one row whichever comes first: recorded first, the
-- message is PENDING and receipts take the status over (callbox_status_takes_over);
-- receipt first, the record only fills what is still missing and never touches the status.
-- The message joins its conversation by the one rule (callbox_thread_message), in the same
-- transaction as the upsert, so a racing receipt cannot make it join twice; the event row
-- and a wake-up for live subscriptions (delivered after commit) follow.
CREATE OR REPLACE FUNCTION callbox_record_outbound(
    p_receiver text, p_provider text, p_provider_message_id text, p_channel text,
    p_sender text, p_recipient text, p_body text, p_reference text,
    p_recorded_at timestamptz, p_sent_at timestamptz, p_metadata jsonb,
    OUT message_id bigint, OUT created boolean
) LANGUAGE plpgsql AS $$
DECLARE
    m record;
    v_conversation bigint;
BEGIN
    PERFORM callbox_lock_apply();  -- one application at a time: no deadlocks with appliers
    INSERT INTO callbox_message AS cm (
        provider, receiver, provider_message_id, direction, channel, sender, recipient, body,
        status, reference, created_at, sent_at, updated_at, occurred_at, received_at,
        metadata, is_test, conversation
    ) VALUES (
        p_provider, p_receiver, p_provider_message_id, 'OUTBOUND', p_channel, p_sender,
        p_recipient, p_body, 'PENDING', p_reference, p_recorded_at, p_sent_at, p_recorded_at,
        COALESCE(p_sent_at, p_recorded_at), p_recorded_at, p_metadata, false,
        callbox_find_conversation(p_channel, p_sender, p_recipient)
    )
    ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
        sender = COALESCE(cm.sender, excluded.sender),
        recipient = COALESCE(cm.recipient, excluded.recipient),
        body = COALESCE(cm.body, excluded.body),
        reference = COALESCE(cm.reference, excluded.reference),
        sent_at = COALESCE(cm.sent_at, excluded.sent_at),
        metadata = excluded.metadata || cm.metadata,
        updated_at = excluded.updated_at
    RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at,
        cm.xmax = 0 AS inserted
    INTO m;
    v_conversation := callbox_thread_message(
        m.id, m.inserted, m.conversation, m.channel, m.sender, m.recipient, m.occurred_at,
        NULL);
    PERFORM callbox_emit_event(
        'RECORDED', p_receiver, 'OUTBOUND', m.id, NULL, v_conversation, NULL, m.recipient);
    PERFORM pg_notify('callbox_events', 'recorded');
    message_id := m.id;
    created := m.inserted;
END
$$;
