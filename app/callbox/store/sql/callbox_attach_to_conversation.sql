CREATE OR REPLACE FUNCTION callbox_attach_to_conversation(
    p_message bigint, p_conversation bigint, p_at timestamptz
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM callbox_count_in_conversation(p_message, p_conversation, p_at);
    UPDATE callbox_message SET conversation = p_conversation WHERE id = p_message;
END
$$;
