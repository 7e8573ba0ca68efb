-- One part of a long inbound message that the provider delivers in several callbacks, in any
-- order (Vonage's concat-ref, concat-part, concat-total): the part waits in
-- callbox_message_part until every part of its group is in, then the parts are joined in
-- part order into one inbound message through callbox_apply_inbound, named by part 1's
-- provider_message_id, with the ids of every part in metadata.parts. Returns that message's
-- id, or NULL while parts are missing. Joined parts keep the message's id, so a group that
-- comes again later (a phone reuses its reference numbers) starts a new message.
CREATE OR REPLACE FUNCTION callbox_apply_inbound_part(
    p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
    p_our_address text, e jsonb
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_group text := e->'part'->>'group';
    v_number integer := (e->'part'->>'number')::integer;
    v_count integer := (e->'part'->>'count')::integer;
    v_joined jsonb;
    v_message bigint;
BEGIN
    -- One transaction at a time per group (in read committed, each statement below sees
    -- what the previous holder committed), so two last parts arriving together cannot each
    -- miss the other. 0x70617274 is "part": its own key space beside other advisory locks.
    PERFORM pg_advisory_xact_lock(x'70617274'::integer, hashtext(p_receiver || ' ' || v_group));
    INSERT INTO callbox_message_part (
        receiver, part_group, part_number, part_count, event, received_at, notification
    ) VALUES (
        p_receiver, v_group, v_number, v_count, e - 'part', p_received_at, p_notification
    );
    -- The first waiting part of each number: complete when there are count of them (every
    -- number is between 1 and count).
    SELECT (array_agg(p.event ORDER BY p.part_number))[1]
        || jsonb_build_object(
            'body', string_agg(p.event->>'body', '' ORDER BY p.part_number),
            'occurred_at', min((p.event->>'occurred_at')::timestamptz),
            'is_test', bool_or(COALESCE((p.event->>'is_test')::boolean, false)),
            'metadata', COALESCE((array_agg(p.event->'metadata' ORDER BY p.part_number))[1],
                    '{}'::jsonb)
                || jsonb_build_object(
                    'parts',
                    jsonb_agg(p.event->'provider_message_id' ORDER BY p.part_number)))
    INTO v_joined
    FROM (
        SELECT DISTINCT ON (part_number) part_number, event
        FROM callbox_message_part
        WHERE receiver = p_receiver AND part_group = v_group AND part_count = v_count
            AND message IS NULL
        ORDER BY part_number, id
    ) AS p
    HAVING count(*) = v_count;
    IF v_joined IS NULL THEN
        RETURN NULL;
    END IF;
    v_message := callbox_apply_inbound(
        p_receiver, p_provider, p_notification, p_received_at, p_our_address, v_joined);
    -- Every waiting part of the group, a part sent twice under two ids included.
    UPDATE callbox_message_part SET message = v_message
    WHERE receiver = p_receiver AND part_group = v_group AND part_count = v_count
        AND message IS NULL;
    RETURN v_message;
END
$$;
