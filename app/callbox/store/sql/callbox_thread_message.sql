-- The conversation rule, in one place (receipts, inbound messages, recorded outbound
-- messages all call it right after writing the message):
-- one conversation per (channel, our address, their address). A message inserted straight
-- into its existing conversation is counted there; a message not yet in one joins the
-- conversation of the message it replies to when there is one, else the conversation of its
-- two addresses once both are known (created when it is the first). A message already in a
-- conversation stays in it. Returns the message's conversation (NULL: not yet known).
CREATE OR REPLACE FUNCTION callbox_thread_message(
    p_message bigint, p_inserted boolean, p_conversation bigint, p_channel text,
    p_our text, p_their text, p_at timestamptz, p_reply_to_conversation bigint
) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
    IF p_conversation IS NOT NULL THEN
        IF p_inserted THEN
            PERFORM callbox_count_in_conversation(p_message, p_conversation, p_at);
        END IF;
        RETURN p_conversation;
    END IF;
    IF p_reply_to_conversation IS NOT NULL THEN
        PERFORM callbox_attach_to_conversation(p_message, p_reply_to_conversation, p_at);
        RETURN p_reply_to_conversation;
    END IF;
    IF p_our IS NOT NULL AND p_their IS NOT NULL THEN
        RETURN callbox_join_conversation(p_message, p_channel, p_our, p_their, p_at);
    END IF;
    RETURN NULL;
END
$$;
