CREATE OR REPLACE FUNCTION callbox_count_in_conversation(
    p_message bigint, p_conversation bigint, p_at timestamptz
) RETURNS void LANGUAGE sql AS $$
    UPDATE callbox_conversation SET
        message_count = message_count + 1,
        last_message_id = CASE WHEN p_at >= last_activity_at
            THEN p_message ELSE last_message_id END,
        last_activity_at = GREATEST(last_activity_at, p_at)
    WHERE id = p_conversation
$$;
