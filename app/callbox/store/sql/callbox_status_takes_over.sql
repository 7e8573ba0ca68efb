CREATE OR REPLACE FUNCTION callbox_status_takes_over(
    current_status text, current_at timestamptz, new_status text, new_at timestamptz
) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN current_status IN ('DELIVERED', 'FAILED')
            AND new_status NOT IN ('DELIVERED', 'FAILED') THEN false
        WHEN new_status IN ('DELIVERED', 'FAILED')
            AND current_status NOT IN ('DELIVERED', 'FAILED') THEN true
        ELSE current_at IS NULL OR new_at IS NULL OR new_at >= current_at
    END
$$;
