CREATE OR REPLACE FUNCTION callbox_join_conversation(
    p_message bigint, p_channel text, p_our text, p_their text, p_at timestamptz
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_conversation bigint;
BEGIN
    INSERT INTO callbox_conversation AS c (
        channel, our_address, their_address, created_at, last_activity_at,
        last_message_id, message_count
    ) VALUES (p_channel, p_our, p_their, p_at, p_at, p_message, 1)
    ON CONFLICT (channel, our_address, their_address) DO UPDATE SET
        message_count = c.message_count + 1,
        last_message_id = CASE WHEN excluded.last_activity_at >= c.last_activity_at
            THEN excluded.last_message_id ELSE c.last_message_id END,
        last_activity_at = GREATEST(c.last_activity_at, excluded.last_activity_at)
    RETURNING id INTO v_conversation;
    UPDATE callbox_message SET conversation = v_conversation WHERE id = p_message;
    RETURN v_conversation;
END
$$;
