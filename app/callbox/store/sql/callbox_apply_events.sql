CREATE OR REPLACE FUNCTION callbox_apply_events(
    p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
    p_our_address text, p_events jsonb,
    OUT applied integer, OUT duplicates integer, OUT message_ids bigint[]
) LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    v_claimed bigint;
    v_message bigint;
    v_opt_out bigint;
    v_recipient text;
    v_address text;
BEGIN
    applied := 0;
    duplicates := 0;
    message_ids := '{}';
    FOR e IN SELECT value FROM jsonb_array_elements(p_events) LOOP
        -- applied_at: when it was applied (behind the acknowledgement): the apply lag is
        -- applied_at minus the request's received_at.
        INSERT INTO callbox_applied_event (receiver, dedupe_key, notification, applied_at)
        VALUES (p_receiver, e->>'dedupe_key', p_notification, clock_timestamp())
        ON CONFLICT (receiver, dedupe_key) DO NOTHING
        RETURNING id INTO v_claimed;
        IF v_claimed IS NULL THEN
            duplicates := duplicates + 1;
            CONTINUE;
        END IF;
        applied := applied + 1;
        CASE e->>'kind'
            WHEN 'status' THEN
                v_message := callbox_apply_status(
                    p_receiver, p_provider, p_notification, p_received_at, p_our_address, e);
                message_ids := message_ids || v_message;
            WHEN 'inbound' THEN
                IF jsonb_typeof(e->'part') = 'object' THEN
                    -- NULL until the last part of a long message is in.
                    v_message := callbox_apply_inbound_part(
                        p_receiver, p_provider, p_notification, p_received_at, p_our_address,
                        e);
                ELSE
                    v_message := callbox_apply_inbound(
                        p_receiver, p_provider, p_notification, p_received_at, p_our_address,
                        e);
                END IF;
                IF v_message IS NOT NULL THEN
                    message_ids := message_ids || v_message;
                END IF;
            WHEN 'opt_out' THEN
                SELECT id, recipient INTO v_message, v_recipient FROM callbox_message
                WHERE receiver = p_receiver AND direction = 'OUTBOUND'
                    AND provider_message_id = e->>'provider_message_id';
                -- An opt-out that names only the message is its recipient's; with neither
                -- known there is no address to record (the report stays in the raw request
                -- and, where the provider names the message, in its history).
                v_address := COALESCE(e->>'address', v_recipient);
                IF v_address IS NOT NULL THEN
                    v_opt_out := callbox_record_opt_out(
                        p_receiver, p_provider, p_notification, p_received_at, v_address,
                        e->>'action', e->>'channel', e->>'source', e->>'text',
                        (e->>'occurred_at')::timestamptz, v_message);
                    IF v_opt_out IS NOT NULL THEN
                        PERFORM callbox_emit_event(
                            'OPTED_OUT', p_receiver, NULL, v_message, NULL,
                            (SELECT conversation FROM callbox_message WHERE id = v_message),
                            v_opt_out, v_address);
                    END IF;
                END IF;
            ELSE
                RAISE EXCEPTION 'unknown event kind %', e->>'kind';
        END CASE;
    END LOOP;
END
$$;
