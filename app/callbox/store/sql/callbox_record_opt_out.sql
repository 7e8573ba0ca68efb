-- One row in the opt-out ledger; NULL when the same request already recorded the same action
-- for the same address (a provider that flags an inbound STOP itself, Twilio's OptOutType or
-- Plivo's MessageIntent, says what the keyword rule already recorded: one STOP, one row).
-- Callers emit the OPTED_OUT event only for a row recorded.
CREATE OR REPLACE FUNCTION callbox_record_opt_out(
    p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
    p_address text, p_action text, p_channel text, p_source text, p_text text,
    p_at timestamptz, p_message bigint
) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO callbox_opt_out (
        address, action, channel, provider, receiver, source, text, occurred_at,
        received_at, message, notification
    )
    SELECT
        p_address, p_action, p_channel, p_provider, p_receiver, p_source, p_text,
        COALESCE(p_at, p_received_at), p_received_at, p_message, p_notification
    WHERE NOT EXISTS (
        SELECT 1 FROM callbox_opt_out o
        WHERE o.notification = p_notification AND o.address = p_address
            AND o.action = p_action
    )
    RETURNING id
$$;
