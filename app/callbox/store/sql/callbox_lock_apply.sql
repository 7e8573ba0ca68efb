-- Every transaction that applies events to the model (the appliers of every process,
-- reprocessing, recorded outbound messages) takes this lock first, for the rest of its
-- transaction. Applications therefore never interleave: two of them cannot lock the same
-- messages and conversations in opposite orders, so no deadlock (and no deadlock_timeout
-- wait) can happen between them. Storing raw requests does not take it.
CREATE OR REPLACE FUNCTION callbox_lock_apply() RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(7204901633187521536)
$$;
