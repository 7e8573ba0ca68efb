CREATE OR REPLACE FUNCTION callbox_apply_inbound(
    p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
    p_our_address text, e jsonb
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz := (e->>'occurred_at')::timestamptz;
    v_recipient text := COALESCE(e->>'recipient', p_our_address);
    v_is_test boolean := COALESCE((e->>'is_test')::boolean, false);
    v_replied_id bigint;
    v_replied_conversation bigint;
    v_replied_sender text;
    v_replied_their text;
    v_replied_channel text;
    v_replied_at timestamptz;
    m record;
    v_status_event bigint;
    v_conversation bigint;
    v_opt_out bigint;
    v_known bigint;
    v_keyword_action text := callbox_keyword_action(e->>'body');
BEGIN
    IF e->>'in_reply_to' IS NOT NULL THEN
        SELECT id, conversation, sender
        INTO v_replied_id, v_replied_conversation, v_replied_sender
        FROM callbox_message
        WHERE receiver = p_receiver AND direction = 'OUTBOUND'
            AND provider_message_id = e->>'in_reply_to';
        IF v_recipient IS NULL THEN
            v_recipient := v_replied_sender;
        ELSIF v_replied_id IS NOT NULL AND v_replied_sender IS NULL THEN
            -- The receipt did not say who sent our message; the reply says who got it.
            UPDATE callbox_message SET sender = v_recipient WHERE id = v_replied_id
            RETURNING recipient, channel, occurred_at
            INTO v_replied_their, v_replied_channel, v_replied_at;
            IF v_replied_conversation IS NULL AND v_replied_their IS NOT NULL THEN
                v_replied_conversation := callbox_join_conversation(
                    v_replied_id, v_replied_channel, v_recipient, v_replied_their,
                    v_replied_at);
            END IF;
        END IF;
    END IF;
    -- The thread it belongs in, when it exists already (see callbox_apply_status).
    v_known := v_replied_conversation;
    IF v_known IS NULL AND v_recipient IS NOT NULL AND e->>'sender' IS NOT NULL THEN
        v_known := callbox_find_conversation(e->>'channel', v_recipient, e->>'sender');
    END IF;
    INSERT INTO callbox_message AS cm (
        provider, receiver, provider_message_id, direction, channel, sender, recipient,
        body, status, provider_status, status_occurred_at, created_at, updated_at,
        occurred_at, received_at, in_reply_to, metadata, is_test, conversation, subject
    ) VALUES (
        p_provider, p_receiver, e->>'provider_message_id', 'INBOUND', e->>'channel',
        e->>'sender', v_recipient, e->>'body', 'RECEIVED', e->>'provider_status', v_at,
        p_received_at, p_received_at, COALESCE(v_at, p_received_at), p_received_at,
        e->>'in_reply_to',
        COALESCE(e->'metadata', '{}'), v_is_test, v_known, e->>'subject'
    )
    ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
        sender = COALESCE(cm.sender, excluded.sender),
        recipient = COALESCE(cm.recipient, excluded.recipient),
        body = COALESCE(cm.body, excluded.body),
        subject = COALESCE(cm.subject, excluded.subject),
        in_reply_to = COALESCE(cm.in_reply_to, excluded.in_reply_to),
        metadata = cm.metadata || excluded.metadata,
        updated_at = excluded.updated_at
    RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at,
        cm.xmax = 0 AS inserted
    INTO m;
    INSERT INTO callbox_status_event (
        message, status, provider_status, failure_reason, occurred_at, received_at,
        notification, is_test
    ) VALUES (
        m.id, 'RECEIVED', e->>'provider_status', NULL, v_at, p_received_at, p_notification,
        v_is_test
    ) RETURNING id INTO v_status_event;
    -- Inbound: we are the recipient, they are the sender.
    v_conversation := callbox_thread_message(
        m.id, m.inserted, m.conversation, m.channel, m.recipient, m.sender, m.occurred_at,
        v_replied_conversation);
    PERFORM callbox_emit_event(
        'RECEIVED', p_receiver, 'INBOUND', m.id, v_status_event, v_conversation, NULL,
        m.sender);
    IF v_keyword_action IS NOT NULL THEN
        v_opt_out := callbox_record_opt_out(
            p_receiver, p_provider, p_notification, p_received_at, e->>'sender',
            v_keyword_action, e->>'channel', 'keyword', e->>'body', v_at, m.id);
        IF v_opt_out IS NOT NULL THEN
            PERFORM callbox_emit_event(
                'OPTED_OUT', p_receiver, 'INBOUND', m.id, NULL, v_conversation, v_opt_out,
                e->>'sender');
        END IF;
    END IF;
    RETURN m.id;
END
$$;
