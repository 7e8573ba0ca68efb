-- Whether an address is opted out: the ledger row that decides is the latest by when it
-- happened (then by arrival), over the given spellings of the address and, when given,
-- only the given receivers (NULL: all). OPT_OUT means opted out; OPT_IN or no row, not.
CREATE OR REPLACE FUNCTION callbox_is_opted_out(p_addresses text[], p_receivers text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT COALESCE((
        SELECT o.action = 'OPT_OUT' FROM callbox_opt_out o
        WHERE o.address = ANY(p_addresses)
          AND (p_receivers IS NULL OR o.receiver = ANY(p_receivers))
        ORDER BY o.occurred_at DESC, o.id DESC
        LIMIT 1
    ), false)
$$;
