CREATE OR REPLACE FUNCTION callbox_record_opt_out(
    p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
    p_address text, p_action text, p_channel text, p_source text, p_text text,
    p_at timestamptz, p_message bigint
) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO callbox_opt_out (
        address, action, channel, provider, receiver, source, text, occurred_at,
        received_at, message, notification
    ) VALUES (
        p_address, p_action, p_channel, p_provider, p_receiver, p_source, p_text,
        COALESCE(p_at, p_received_at), p_received_at, p_message, p_notification
    )
    RETURNING id
$$;
