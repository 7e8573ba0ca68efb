CREATE OR REPLACE FUNCTION callbox_find_conversation(p_channel text, p_our text, p_their text)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT id FROM callbox_conversation
    WHERE channel = p_channel AND our_address = p_our AND their_address = p_their
$$;
