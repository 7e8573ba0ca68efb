-- The standard opt-out keywords: an inbound message whose whole text, trimmed of spaces,
-- line breaks, full stops and exclamation marks, is one of them, in any case. 'OPT_OUT'
-- for STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT; 'OPT_IN' for START, UNSTOP; NULL for
-- anything else (called by callbox_apply_inbound, which records it in the opt-out ledger).
CREATE OR REPLACE FUNCTION callbox_keyword_action(p_text text)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE upper(btrim(p_text, E' \t\r\n.!'))
        WHEN 'STOP' THEN 'OPT_OUT'
        WHEN 'STOPALL' THEN 'OPT_OUT'
        WHEN 'UNSUBSCRIBE' THEN 'OPT_OUT'
        WHEN 'CANCEL' THEN 'OPT_OUT'
        WHEN 'END' THEN 'OPT_OUT'
        WHEN 'QUIT' THEN 'OPT_OUT'
        WHEN 'START' THEN 'OPT_IN'
        WHEN 'UNSTOP' THEN 'OPT_IN'
    END
$$;
