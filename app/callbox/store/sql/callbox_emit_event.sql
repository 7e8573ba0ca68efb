CREATE OR REPLACE FUNCTION callbox_emit_event(
    p_kind text, p_receiver text, p_direction text, p_message bigint,
    p_status_event bigint, p_conversation bigint, p_opt_out bigint, p_address text
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO callbox_event (
        kind, receiver, direction, message, status_event, conversation, opt_out, address
    ) VALUES (
        p_kind, p_receiver, p_direction, p_message, p_status_event, p_conversation,
        p_opt_out, p_address
    )
$$;
