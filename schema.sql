-- Callbox's database schema, as a database migrated from scratch has it: generated, not
-- applied. Tables and indexes come from migrations/, functions from
-- app/callbox/store/sql/. Regenerate: CALLBOX_WRITE_SCHEMA_SQL=1 uv run pytest
-- tests/store/test_schema_sql.py

CREATE TABLE callbox_applied_event (
    id bigint NOT NULL DEFAULT nextval('callbox_applied_event_id_seq'::regclass),
    receiver character varying(64) NOT NULL,
    dedupe_key text NOT NULL,
    notification bigint,
    applied_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT callbox_applied_event_key UNIQUE (receiver, dedupe_key),
    CONSTRAINT callbox_applied_event_pkey PRIMARY KEY (id),
    CONSTRAINT callbox_applied_event_notification_fkey FOREIGN KEY (notification) REFERENCES callbox_notification(id) ON DELETE SET NULL
);

CREATE INDEX callbox_applied_event_notification ON public.callbox_applied_event USING btree (notification);

CREATE TABLE callbox_conversation (
    id bigint NOT NULL DEFAULT nextval('callbox_conversation_id_seq'::regclass),
    channel character varying(8) NOT NULL,
    our_address text NOT NULL,
    their_address text NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    last_activity_at timestamp with time zone NOT NULL,
    last_message_id bigint,
    message_count integer NOT NULL DEFAULT 0,
    CONSTRAINT callbox_conversation_parties UNIQUE (channel, our_address, their_address),
    CONSTRAINT callbox_conversation_pkey PRIMARY KEY (id)
);

CREATE INDEX callbox_conversation_activity ON public.callbox_conversation USING btree (last_activity_at DESC, id DESC);
CREATE INDEX callbox_conversation_our_activity ON public.callbox_conversation USING btree (our_address, last_activity_at DESC, id DESC);
CREATE INDEX callbox_conversation_their_activity ON public.callbox_conversation USING btree (their_address, last_activity_at DESC, id DESC);

CREATE TABLE callbox_event (
    id bigint NOT NULL DEFAULT nextval('callbox_event_id_seq'::regclass),
    xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind character varying(16) NOT NULL,
    receiver character varying(64) NOT NULL,
    direction character varying(8),
    message bigint,
    status_event bigint,
    conversation bigint,
    opt_out bigint,
    address text,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT callbox_event_pkey PRIMARY KEY (id)
);

CREATE INDEX callbox_event_created ON public.callbox_event USING btree (created_at);
CREATE INDEX callbox_event_order ON public.callbox_event USING btree (xid, id);

CREATE TABLE callbox_instance_key (
    id integer NOT NULL,
    key bytea NOT NULL,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    CONSTRAINT callbox_instance_key_id_check CHECK ((id = 1)),
    CONSTRAINT callbox_instance_key_key_check CHECK ((octet_length(key) = 32)),
    CONSTRAINT callbox_instance_key_pkey PRIMARY KEY (id)
);

CREATE TABLE callbox_message (
    id bigint NOT NULL DEFAULT nextval('callbox_message_id_seq'::regclass),
    provider character varying(32) NOT NULL,
    receiver character varying(64) NOT NULL,
    provider_message_id text NOT NULL,
    direction character varying(8) NOT NULL,
    channel character varying(8) NOT NULL,
    sender text,
    recipient text,
    body text,
    status character varying(16) NOT NULL,
    provider_status text,
    failure_reason character varying(24),
    reference text,
    status_occurred_at timestamp with time zone,
    created_at timestamp with time zone NOT NULL DEFAULT now(),
    sent_at timestamp with time zone,
    delivered_at timestamp with time zone,
    updated_at timestamp with time zone NOT NULL DEFAULT now(),
    occurred_at timestamp with time zone NOT NULL DEFAULT now(),
    conversation bigint,
    in_reply_to text,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_test boolean NOT NULL DEFAULT false,
    received_at timestamp with time zone NOT NULL DEFAULT now(),
    subject text,
    opened_at timestamp with time zone,
    clicked_at timestamp with time zone,
    CONSTRAINT callbox_message_identity UNIQUE (provider_message_id, receiver, direction),
    CONSTRAINT callbox_message_pkey PRIMARY KEY (id),
    CONSTRAINT callbox_message_conversation_fkey FOREIGN KEY (conversation) REFERENCES callbox_conversation(id) ON DELETE SET NULL
);

CREATE INDEX callbox_message_clicked ON public.callbox_message USING btree (occurred_at DESC, id DESC) WHERE (clicked_at IS NOT NULL);
CREATE INDEX callbox_message_conversation ON public.callbox_message USING btree (conversation, occurred_at DESC, id DESC);
CREATE INDEX callbox_message_occurred ON public.callbox_message USING btree (occurred_at DESC, id DESC);
CREATE INDEX callbox_message_opened ON public.callbox_message USING btree (occurred_at DESC, id DESC) WHERE (opened_at IS NOT NULL);
CREATE INDEX callbox_message_receiver_occurred ON public.callbox_message USING btree (receiver, occurred_at DESC, id DESC);
CREATE INDEX callbox_message_receiver_received ON public.callbox_message USING btree (receiver, received_at);
CREATE INDEX callbox_message_receiver_recipient ON public.callbox_message USING btree (receiver, recipient, occurred_at DESC, id DESC);
CREATE INDEX callbox_message_receiver_sender ON public.callbox_message USING btree (receiver, sender, occurred_at DESC, id DESC);
CREATE INDEX callbox_message_reference ON public.callbox_message USING btree (reference) WHERE (reference IS NOT NULL);

CREATE TABLE callbox_message_part (
    id bigint NOT NULL DEFAULT nextval('callbox_message_part_id_seq'::regclass),
    receiver character varying(64) NOT NULL,
    part_group text NOT NULL,
    part_number integer NOT NULL,
    part_count integer NOT NULL,
    event jsonb NOT NULL,
    received_at timestamp with time zone NOT NULL,
    notification bigint NOT NULL,
    message bigint,
    CONSTRAINT callbox_message_part_number CHECK (((part_number >= 1) AND (part_number <= part_count))),
    CONSTRAINT callbox_message_part_pkey PRIMARY KEY (id),
    CONSTRAINT callbox_message_part_message_fkey FOREIGN KEY (message) REFERENCES callbox_message(id) ON DELETE CASCADE,
    CONSTRAINT callbox_message_part_notification_fkey FOREIGN KEY (notification) REFERENCES callbox_notification(id) ON DELETE CASCADE
);

CREATE INDEX callbox_message_part_message ON public.callbox_message_part USING btree (message) WHERE (message IS NOT NULL);
CREATE INDEX callbox_message_part_notification ON public.callbox_message_part USING btree (notification);
CREATE INDEX callbox_message_part_waiting ON public.callbox_message_part USING btree (receiver, part_group, part_number) WHERE (message IS NULL);

CREATE TABLE callbox_notification (
    id bigint NOT NULL DEFAULT nextval('callbox_notification_id_seq'::regclass),
    receiver character varying(64) NOT NULL,
    provider character varying(32) NOT NULL,
    received_at timestamp with time zone NOT NULL DEFAULT now(),
    peer_address character varying(64) NOT NULL,
    client_address character varying(64) NOT NULL,
    method character varying(8) NOT NULL,
    content_type text,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    body bytea,
    body_size bigint NOT NULL,
    query_string text NOT NULL DEFAULT ''::text,
    state character varying(16) NOT NULL,
    reason text,
    event_count integer NOT NULL DEFAULT 0,
    processed_at timestamp with time zone,
    CONSTRAINT callbox_notification_pkey PRIMARY KEY (id)
);

CREATE INDEX callbox_notification_failed ON public.callbox_notification USING btree (receiver, id) WHERE ((state)::text = 'FAILED'::text);
CREATE INDEX callbox_notification_received ON public.callbox_notification USING btree (received_at, id);
CREATE INDEX callbox_notification_receiver_received ON public.callbox_notification USING btree (receiver, received_at DESC, id DESC);
CREATE INDEX callbox_notification_rejected ON public.callbox_notification USING btree (receiver, id) WHERE ((state)::text = 'REJECTED'::text);

CREATE TABLE callbox_opt_out (
    id bigint NOT NULL DEFAULT nextval('callbox_opt_out_id_seq'::regclass),
    address text NOT NULL,
    action character varying(8) NOT NULL,
    channel character varying(8) NOT NULL,
    provider character varying(32) NOT NULL,
    receiver character varying(64) NOT NULL,
    source character varying(16) NOT NULL,
    text text,
    occurred_at timestamp with time zone NOT NULL,
    received_at timestamp with time zone NOT NULL DEFAULT now(),
    message bigint,
    notification bigint,
    CONSTRAINT callbox_opt_out_pkey PRIMARY KEY (id),
    CONSTRAINT callbox_opt_out_message_fkey FOREIGN KEY (message) REFERENCES callbox_message(id) ON DELETE SET NULL,
    CONSTRAINT callbox_opt_out_notification_fkey FOREIGN KEY (notification) REFERENCES callbox_notification(id) ON DELETE SET NULL
);

CREATE INDEX callbox_opt_out_address_occurred ON public.callbox_opt_out USING btree (address, occurred_at DESC, id DESC);
CREATE INDEX callbox_opt_out_message ON public.callbox_opt_out USING btree (message) WHERE (message IS NOT NULL);
CREATE INDEX callbox_opt_out_notification ON public.callbox_opt_out USING btree (notification);
CREATE INDEX callbox_opt_out_occurred ON public.callbox_opt_out USING btree (occurred_at DESC, id DESC);

CREATE TABLE callbox_pending_apply (
    notification bigint NOT NULL,
    receiver character varying(64) NOT NULL,
    provider character varying(32) NOT NULL,
    received_at timestamp with time zone NOT NULL,
    our_address text,
    events jsonb NOT NULL,
    CONSTRAINT callbox_pending_apply_pkey PRIMARY KEY (notification),
    CONSTRAINT callbox_pending_apply_notification_fkey FOREIGN KEY (notification) REFERENCES callbox_notification(id) ON DELETE CASCADE
);

CREATE TABLE callbox_status_event (
    id bigint NOT NULL DEFAULT nextval('callbox_status_event_id_seq'::regclass),
    message bigint NOT NULL,
    status character varying(16) NOT NULL,
    provider_status text,
    failure_reason character varying(24),
    occurred_at timestamp with time zone,
    received_at timestamp with time zone NOT NULL DEFAULT now(),
    notification bigint,
    is_test boolean NOT NULL DEFAULT false,
    kind character varying(16) NOT NULL DEFAULT 'STATUS'::character varying,
    bounce_type character varying(16),
    detail text,
    CONSTRAINT callbox_status_event_pkey PRIMARY KEY (id),
    CONSTRAINT callbox_status_event_message_fkey FOREIGN KEY (message) REFERENCES callbox_message(id) ON DELETE CASCADE,
    CONSTRAINT callbox_status_event_notification_fkey FOREIGN KEY (notification) REFERENCES callbox_notification(id) ON DELETE SET NULL
);

CREATE INDEX callbox_status_event_bounce ON public.callbox_status_event USING btree (bounce_type, message) WHERE (bounce_type IS NOT NULL);
CREATE INDEX callbox_status_event_kind ON public.callbox_status_event USING btree (kind, message) WHERE ((kind)::text <> 'STATUS'::text);
CREATE INDEX callbox_status_event_message ON public.callbox_status_event USING btree (message, id);
CREATE INDEX callbox_status_event_notification ON public.callbox_status_event USING btree (notification);

CREATE OR REPLACE FUNCTION callbox_accept_batch(p_items jsonb, p_bodies bytea[])
RETURNS TABLE(ordinal integer, notification_id bigint, state text) LANGUAGE plpgsql AS $$
DECLARE
    item jsonb;
    v_count integer;
BEGIN
    ordinal := 0;
    FOR item IN SELECT value FROM jsonb_array_elements(p_items) LOOP
        ordinal := ordinal + 1;
        v_count := jsonb_array_length(item->'events');
        INSERT INTO callbox_notification (
            receiver, provider, received_at, peer_address, client_address, method,
            content_type, headers, body, body_size, query_string, state, reason, event_count,
            processed_at
        ) VALUES (
            item->>'receiver', item->>'provider', (item->>'received_at')::timestamptz,
            item->>'peer', item->>'client', item->>'method', item->>'content_type',
            item->'headers', p_bodies[ordinal], (item->>'body_size')::bigint,
            -- note: what the provider module did not apply, and why (NotApplied).
            item->>'query_string', 'ACCEPTED', item->>'note', v_count, clock_timestamp()
        ) RETURNING id INTO notification_id;
        IF v_count > 0 THEN
            INSERT INTO callbox_pending_apply (
                notification, receiver, provider, received_at, our_address, events
            ) VALUES (
                notification_id, item->>'receiver', item->>'provider',
                (item->>'received_at')::timestamptz, item->>'our_address', item->'events'
            );
            state := 'PENDING';
        ELSE
            state := 'ACCEPTED';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION callbox_apply_events(p_receiver text, p_provider text, p_notification bigint, p_received_at timestamp with time zone, p_our_address text, p_events jsonb, OUT applied integer, OUT duplicates integer, OUT message_ids bigint[])
RETURNS record LANGUAGE plpgsql AS $$
DECLARE
    e jsonb;
    v_claimed bigint;
    v_message bigint;
    v_opt_out bigint;
    v_recipient text;
    v_address text;
BEGIN
    applied := 0;
    duplicates := 0;
    message_ids := '{}';
    FOR e IN SELECT value FROM jsonb_array_elements(p_events) LOOP
        -- applied_at: when it was applied (behind the acknowledgement): the apply lag is
        -- applied_at minus the request's received_at.
        INSERT INTO callbox_applied_event (receiver, dedupe_key, notification, applied_at)
        VALUES (p_receiver, e->>'dedupe_key', p_notification, clock_timestamp())
        ON CONFLICT (receiver, dedupe_key) DO NOTHING
        RETURNING id INTO v_claimed;
        IF v_claimed IS NULL THEN
            duplicates := duplicates + 1;
            CONTINUE;
        END IF;
        applied := applied + 1;
        CASE e->>'kind'
            WHEN 'status' THEN
                v_message := callbox_apply_status(
                    p_receiver, p_provider, p_notification, p_received_at, p_our_address, e);
                message_ids := message_ids || v_message;
            WHEN 'inbound' THEN
                IF jsonb_typeof(e->'part') = 'object' THEN
                    -- NULL until the last part of a long message is in.
                    v_message := callbox_apply_inbound_part(
                        p_receiver, p_provider, p_notification, p_received_at, p_our_address,
                        e);
                ELSE
                    v_message := callbox_apply_inbound(
                        p_receiver, p_provider, p_notification, p_received_at, p_our_address,
                        e);
                END IF;
                IF v_message IS NOT NULL THEN
                    message_ids := message_ids || v_message;
                END IF;
            WHEN 'opt_out' THEN
                SELECT id, recipient INTO v_message, v_recipient FROM callbox_message
                WHERE receiver = p_receiver AND direction = 'OUTBOUND'
                    AND provider_message_id = e->>'provider_message_id';
                -- An opt-out that names only the message is its recipient's; with neither
                -- known there is no address to record (the report stays in the raw request
                -- and, where the provider names the message, in its history).
                v_address := COALESCE(e->>'address', v_recipient);
                IF v_address IS NOT NULL THEN
                    v_opt_out := callbox_record_opt_out(
                        p_receiver, p_provider, p_notification, p_received_at, v_address,
                        e->>'action', e->>'channel', e->>'source', e->>'text',
                        (e->>'occurred_at')::timestamptz, v_message);
                    IF v_opt_out IS NOT NULL THEN
                        PERFORM callbox_emit_event(
                            'OPTED_OUT', p_receiver, NULL, v_message, NULL,
                            (SELECT conversation FROM callbox_message WHERE id = v_message),
                            v_opt_out, v_address);
                    END IF;
                END IF;
            ELSE
                RAISE EXCEPTION 'unknown event kind %', e->>'kind';
        END CASE;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION callbox_apply_inbound(p_receiver text, p_provider text, p_notification bigint, p_received_at timestamp with time zone, p_our_address text, e jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_at timestamptz := (e->>'occurred_at')::timestamptz;
    v_recipient text := COALESCE(e->>'recipient', p_our_address);
    v_is_test boolean := COALESCE((e->>'is_test')::boolean, false);
    v_replied_id bigint;
    v_replied_conversation bigint;
    v_replied_sender text;
    v_replied_their text;
    v_replied_channel text;
    v_replied_at timestamptz;
    m record;
    v_status_event bigint;
    v_conversation bigint;
    v_opt_out bigint;
    v_known bigint;
    v_keyword_action text := callbox_keyword_action(e->>'body');
BEGIN
    IF e->>'in_reply_to' IS NOT NULL THEN
        SELECT id, conversation, sender
        INTO v_replied_id, v_replied_conversation, v_replied_sender
        FROM callbox_message
        WHERE receiver = p_receiver AND direction = 'OUTBOUND'
            AND provider_message_id = e->>'in_reply_to';
        IF v_recipient IS NULL THEN
            v_recipient := v_replied_sender;
        ELSIF v_replied_id IS NOT NULL AND v_replied_sender IS NULL THEN
            -- The receipt did not say who sent our message; the reply says who got it.
            UPDATE callbox_message SET sender = v_recipient WHERE id = v_replied_id
            RETURNING recipient, channel, occurred_at
            INTO v_replied_their, v_replied_channel, v_replied_at;
            IF v_replied_conversation IS NULL AND v_replied_their IS NOT NULL THEN
                v_replied_conversation := callbox_join_conversation(
                    v_replied_id, v_replied_channel, v_recipient, v_replied_their,
                    v_replied_at);
            END IF;
        END IF;
    END IF;
    -- The thread it belongs in, when it exists already (see callbox_apply_status).
    v_known := v_replied_conversation;
    IF v_known IS NULL AND v_recipient IS NOT NULL AND e->>'sender' IS NOT NULL THEN
        v_known := callbox_find_conversation(e->>'channel', v_recipient, e->>'sender');
    END IF;
    INSERT INTO callbox_message AS cm (
        provider, receiver, provider_message_id, direction, channel, sender, recipient,
        body, status, provider_status, status_occurred_at, created_at, updated_at,
        occurred_at, received_at, in_reply_to, metadata, is_test, conversation, subject
    ) VALUES (
        p_provider, p_receiver, e->>'provider_message_id', 'INBOUND', e->>'channel',
        e->>'sender', v_recipient, e->>'body', 'RECEIVED', e->>'provider_status', v_at,
        p_received_at, p_received_at, COALESCE(v_at, p_received_at), p_received_at,
        e->>'in_reply_to',
        COALESCE(e->'metadata', '{}'), v_is_test, v_known, e->>'subject'
    )
    ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
        sender = COALESCE(cm.sender, excluded.sender),
        recipient = COALESCE(cm.recipient, excluded.recipient),
        body = COALESCE(cm.body, excluded.body),
        subject = COALESCE(cm.subject, excluded.subject),
        in_reply_to = COALESCE(cm.in_reply_to, excluded.in_reply_to),
        metadata = cm.metadata || excluded.metadata,
        updated_at = excluded.updated_at
    RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at,
        cm.xmax = 0 AS inserted
    INTO m;
    INSERT INTO callbox_status_event (
        message, status, provider_status, failure_reason, occurred_at, received_at,
        notification, is_test
    ) VALUES (
        m.id, 'RECEIVED', e->>'provider_status', NULL, v_at, p_received_at, p_notification,
        v_is_test
    ) RETURNING id INTO v_status_event;
    -- Inbound: we are the recipient, they are the sender.
    v_conversation := callbox_thread_message(
        m.id, m.inserted, m.conversation, m.channel, m.recipient, m.sender, m.occurred_at,
        v_replied_conversation);
    PERFORM callbox_emit_event(
        'RECEIVED', p_receiver, 'INBOUND', m.id, v_status_event, v_conversation, NULL,
        m.sender);
    IF v_keyword_action IS NOT NULL THEN
        v_opt_out := callbox_record_opt_out(
            p_receiver, p_provider, p_notification, p_received_at, e->>'sender',
            v_keyword_action, e->>'channel', 'keyword', e->>'body', v_at, m.id);
        IF v_opt_out IS NOT NULL THEN
            PERFORM callbox_emit_event(
                'OPTED_OUT', p_receiver, 'INBOUND', m.id, NULL, v_conversation, v_opt_out,
                e->>'sender');
        END IF;
    END IF;
    RETURN m.id;
END
$$;

CREATE OR REPLACE FUNCTION callbox_apply_inbound_part(p_receiver text, p_provider text, p_notification bigint, p_received_at timestamp with time zone, p_our_address text, e jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
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

CREATE OR REPLACE FUNCTION callbox_apply_pending(p_ids bigint[])
RETURNS TABLE(notification_id bigint, state text, received_at timestamp with time zone, applied integer, duplicates integer, message_ids bigint[]) LANGUAGE plpgsql AS $$
DECLARE
    r record;
    a record;
    v_any boolean := false;
BEGIN
    PERFORM callbox_lock_apply();
    FOR r IN
        WITH claimed AS (
            SELECT w.notification FROM callbox_pending_apply w
            WHERE w.notification = ANY(p_ids)
            ORDER BY w.notification
            FOR UPDATE SKIP LOCKED
        ), taken AS (
            DELETE FROM callbox_pending_apply w USING claimed c
            WHERE w.notification = c.notification
            RETURNING w.*
        )
        SELECT * FROM taken ORDER BY notification  -- in arrival order
    LOOP
        SELECT * INTO a FROM callbox_apply_events(
            r.receiver, r.provider, r.notification, r.received_at, r.our_address, r.events
        );
        notification_id := r.notification;
        received_at := r.received_at;
        applied := a.applied;
        duplicates := a.duplicates;
        message_ids := a.message_ids;
        state := 'ACCEPTED';
        IF a.applied = 0 AND a.duplicates > 0 THEN
            state := 'DUPLICATE';
            UPDATE callbox_notification SET state = 'DUPLICATE' WHERE id = r.notification;
        END IF;
        v_any := v_any OR a.applied > 0;
        RETURN NEXT;
    END LOOP;
    IF v_any THEN
        -- Listeners wake up after commit and read callbox_event from their cursor.
        PERFORM pg_notify('callbox_events', '');
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION callbox_apply_status(p_receiver text, p_provider text, p_notification bigint, p_received_at timestamp with time zone, p_our_address text, e jsonb)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_status text := e->>'status';
    v_at timestamptz := (e->>'occurred_at')::timestamptz;
    v_created timestamptz := (e->>'created_at')::timestamptz;
    v_sent timestamptz := (e->>'sent_at')::timestamptz;
    m record;
    v_status_event bigint;
    v_conversation bigint;
    v_sender text := COALESCE(e->>'sender', p_our_address);
    v_known bigint;
    -- Only a delivery status changes the message's status. Any other report (a deferral,
    -- an open, a click, a complaint, an unsubscribe) is kept in the history; its status is
    -- only what it implies, for a message first known from it, and gets no status time so
    -- that the first status a provider reports takes over.
    v_report text := COALESCE(e->>'report', 'STATUS');
    v_changes boolean := COALESCE(e->>'report', 'STATUS') = 'STATUS';
    v_first_at timestamptz := COALESCE((e->>'occurred_at')::timestamptz, p_received_at);
BEGIN
    -- The thread it belongs in, when it exists already: a new message is inserted in
    -- it at once, rather than inserted and then updated (which rewrites every index).
    IF e->>'recipient' IS NOT NULL THEN
        v_known := callbox_find_conversation(e->>'channel', v_sender, e->>'recipient');
    END IF;
    INSERT INTO callbox_message AS cm (
        provider, receiver, provider_message_id, direction, channel, sender, recipient,
        body, status, provider_status, failure_reason, reference, status_occurred_at,
        created_at, sent_at, delivered_at, updated_at, occurred_at, received_at, metadata,
        is_test, conversation, subject, opened_at, clicked_at
    ) VALUES (
        p_provider, p_receiver, e->>'provider_message_id', 'OUTBOUND', e->>'channel',
        v_sender, e->>'recipient', e->>'body', v_status,
        e->>'provider_status', e->>'failure_reason', e->>'reference',
        CASE WHEN v_changes THEN v_at END,
        COALESCE(v_created, p_received_at), v_sent,
        CASE WHEN v_changes AND v_status = 'DELIVERED' THEN COALESCE(v_at, p_received_at) END,
        p_received_at, COALESCE(v_sent, v_created, v_at, p_received_at), p_received_at,
        COALESCE(e->'metadata', '{}'), COALESCE((e->>'is_test')::boolean, false), v_known,
        e->>'subject',
        CASE WHEN v_report = 'OPENED' THEN v_first_at END,
        CASE WHEN v_report = 'CLICKED' THEN v_first_at END
    )
    ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
        sender = COALESCE(cm.sender, excluded.sender),
        recipient = COALESCE(cm.recipient, excluded.recipient),
        body = COALESCE(cm.body, excluded.body),
        subject = COALESCE(cm.subject, excluded.subject),
        reference = COALESCE(cm.reference, excluded.reference),
        sent_at = COALESCE(cm.sent_at, excluded.sent_at),
        metadata = cm.metadata || excluded.metadata,
        is_test = cm.is_test OR excluded.is_test,
        updated_at = excluded.updated_at,
        -- The first open and click reported, whatever order reports arrive in.
        opened_at = LEAST(cm.opened_at, excluded.opened_at),
        clicked_at = LEAST(cm.clicked_at, excluded.clicked_at),
        status = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.status ELSE cm.status END,
        provider_status = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.provider_status ELSE cm.provider_status END,
        failure_reason = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.failure_reason ELSE cm.failure_reason END,
        delivered_at = CASE WHEN excluded.status = 'DELIVERED' AND v_changes
                AND callbox_status_takes_over(
                    cm.status, cm.status_occurred_at, excluded.status,
                    excluded.status_occurred_at)
            THEN excluded.delivered_at ELSE cm.delivered_at END,
        status_occurred_at = CASE WHEN v_changes AND callbox_status_takes_over(
                cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
            THEN excluded.status_occurred_at ELSE cm.status_occurred_at END
    RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at,
        cm.xmax = 0 AS inserted
    INTO m;
    INSERT INTO callbox_status_event (
        message, status, provider_status, failure_reason, occurred_at, received_at,
        notification, is_test, kind, bounce_type, detail
    ) VALUES (
        m.id, v_status, e->>'provider_status', e->>'failure_reason', v_at, p_received_at,
        p_notification, COALESCE((e->>'is_test')::boolean, false), v_report,
        e->>'bounce_type', e->>'detail'
    ) RETURNING id INTO v_status_event;
    v_conversation := callbox_thread_message(
        m.id, m.inserted, m.conversation, m.channel, m.sender, m.recipient, m.occurred_at,
        NULL);
    -- Subscribers are told what it is: a status, or a report that changes no status.
    PERFORM callbox_emit_event(
        CASE WHEN v_changes THEN 'STATUS_CHANGED' ELSE 'REPORTED' END, p_receiver,
        'OUTBOUND', m.id, v_status_event, v_conversation, NULL, m.recipient);
    RETURN m.id;
END
$$;

CREATE OR REPLACE FUNCTION callbox_attach_to_conversation(p_message bigint, p_conversation bigint, p_at timestamp with time zone)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM callbox_count_in_conversation(p_message, p_conversation, p_at);
    UPDATE callbox_message SET conversation = p_conversation WHERE id = p_message;
END
$$;

CREATE OR REPLACE FUNCTION callbox_count_in_conversation(p_message bigint, p_conversation bigint, p_at timestamp with time zone)
RETURNS void LANGUAGE sql AS $$
    UPDATE callbox_conversation SET
        message_count = message_count + 1,
        last_message_id = CASE WHEN p_at >= last_activity_at
            THEN p_message ELSE last_message_id END,
        last_activity_at = GREATEST(last_activity_at, p_at)
    WHERE id = p_conversation
$$;

CREATE OR REPLACE FUNCTION callbox_emit_event(p_kind text, p_receiver text, p_direction text, p_message bigint, p_status_event bigint, p_conversation bigint, p_opt_out bigint, p_address text)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO callbox_event (
        kind, receiver, direction, message, status_event, conversation, opt_out, address
    ) VALUES (
        p_kind, p_receiver, p_direction, p_message, p_status_event, p_conversation,
        p_opt_out, p_address
    )
$$;

CREATE OR REPLACE FUNCTION callbox_find_conversation(p_channel text, p_our text, p_their text)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT id FROM callbox_conversation
    WHERE channel = p_channel AND our_address = p_our AND their_address = p_their
$$;

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

CREATE OR REPLACE FUNCTION callbox_join_conversation(p_message bigint, p_channel text, p_our text, p_their text, p_at timestamp with time zone)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_conversation bigint;
BEGIN
    INSERT INTO callbox_conversation AS c (
        channel, our_address, their_address, created_at, last_activity_at,
        last_message_id, message_count
    ) VALUES (p_channel, p_our, p_their, p_at, p_at, p_message, 1)
    ON CONFLICT (channel, our_address, their_address) DO UPDATE SET
        message_count = c.message_count + 1,
        last_message_id = CASE WHEN excluded.last_activity_at >= c.last_activity_at
            THEN excluded.last_message_id ELSE c.last_message_id END,
        last_activity_at = GREATEST(c.last_activity_at, excluded.last_activity_at)
    RETURNING id INTO v_conversation;
    UPDATE callbox_message SET conversation = v_conversation WHERE id = p_message;
    RETURN v_conversation;
END
$$;

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

CREATE OR REPLACE FUNCTION callbox_lock_apply()
RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(7204901633187521536)
$$;

CREATE OR REPLACE FUNCTION callbox_record_opt_out(p_receiver text, p_provider text, p_notification bigint, p_received_at timestamp with time zone, p_address text, p_action text, p_channel text, p_source text, p_text text, p_at timestamp with time zone, p_message bigint)
RETURNS bigint LANGUAGE sql AS $$
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

CREATE OR REPLACE FUNCTION callbox_record_outbound(p_receiver text, p_provider text, p_provider_message_id text, p_channel text, p_sender text, p_recipient text, p_body text, p_reference text, p_recorded_at timestamp with time zone, p_sent_at timestamp with time zone, p_metadata jsonb, OUT message_id bigint, OUT created boolean)
RETURNS record LANGUAGE plpgsql AS $$
DECLARE
    m record;
    v_conversation bigint;
BEGIN
    PERFORM callbox_lock_apply();  -- one application at a time: no deadlocks with appliers
    INSERT INTO callbox_message AS cm (
        provider, receiver, provider_message_id, direction, channel, sender, recipient, body,
        status, reference, created_at, sent_at, updated_at, occurred_at, received_at,
        metadata, is_test, conversation
    ) VALUES (
        p_provider, p_receiver, p_provider_message_id, 'OUTBOUND', p_channel, p_sender,
        p_recipient, p_body, 'PENDING', p_reference, p_recorded_at, p_sent_at, p_recorded_at,
        COALESCE(p_sent_at, p_recorded_at), p_recorded_at, p_metadata, false,
        callbox_find_conversation(p_channel, p_sender, p_recipient)
    )
    ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
        sender = COALESCE(cm.sender, excluded.sender),
        recipient = COALESCE(cm.recipient, excluded.recipient),
        body = COALESCE(cm.body, excluded.body),
        reference = COALESCE(cm.reference, excluded.reference),
        sent_at = COALESCE(cm.sent_at, excluded.sent_at),
        metadata = excluded.metadata || cm.metadata,
        updated_at = excluded.updated_at
    RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at,
        cm.xmax = 0 AS inserted
    INTO m;
    v_conversation := callbox_thread_message(
        m.id, m.inserted, m.conversation, m.channel, m.sender, m.recipient, m.occurred_at,
        NULL);
    PERFORM callbox_emit_event(
        'RECORDED', p_receiver, 'OUTBOUND', m.id, NULL, v_conversation, NULL, m.recipient);
    PERFORM pg_notify('callbox_events', 'recorded');
    message_id := m.id;
    created := m.inserted;
END
$$;

CREATE OR REPLACE FUNCTION callbox_status_takes_over(current_status text, current_at timestamp with time zone, new_status text, new_at timestamp with time zone)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN current_status IN ('DELIVERED', 'FAILED')
            AND new_status NOT IN ('DELIVERED', 'FAILED') THEN false
        WHEN new_status IN ('DELIVERED', 'FAILED')
            AND current_status NOT IN ('DELIVERED', 'FAILED') THEN true
        ELSE current_at IS NULL OR new_at IS NULL OR new_at >= current_at
    END
$$;

CREATE OR REPLACE FUNCTION callbox_thread_message(p_message bigint, p_inserted boolean, p_conversation bigint, p_channel text, p_our text, p_their text, p_at timestamp with time zone, p_reply_to_conversation bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
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
