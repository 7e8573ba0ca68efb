"""Ingest in one round trip: the rules that apply normalised events, as SQL functions.

``callbox_ingest`` stores a raw notification and applies its events in the statement's own
transaction, so a callback costs one round trip to Postgres. The rules (dedupe, status
precedence, unknown outbound messages, threads, opt-outs) are documented in
app/callbox/ingest/apply.py, which calls these functions.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ingest functions"

STATEMENTS = [
    # Whether a new status replaces the current one: final statuses stay final; between two
    # statuses of the same finality the later provider time wins (ties and gaps: the newer).
    """
    CREATE FUNCTION callbox_status_takes_over(
        current_status text, current_at timestamptz, new_status text, new_at timestamptz
    ) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
        SELECT CASE
            WHEN current_status IN ('DELIVERED', 'FAILED')
                AND new_status NOT IN ('DELIVERED', 'FAILED') THEN false
            WHEN new_status IN ('DELIVERED', 'FAILED')
                AND current_status NOT IN ('DELIVERED', 'FAILED') THEN true
            ELSE current_at IS NULL OR new_at IS NULL OR new_at >= current_at
        END
    $$
    """,
    # Put a message in the thread of (channel, our address, their address).
    """
    CREATE FUNCTION callbox_join_conversation(
        p_message bigint, p_channel text, p_our text, p_their text, p_at timestamptz
    ) RETURNS bigint LANGUAGE plpgsql AS $$
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
    $$
    """,
    # Add a message to a known conversation (an inbound reply to one of our messages).
    """
    CREATE FUNCTION callbox_attach_to_conversation(
        p_message bigint, p_conversation bigint, p_at timestamptz
    ) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE callbox_conversation SET
            message_count = message_count + 1,
            last_message_id = CASE WHEN p_at >= last_activity_at
                THEN p_message ELSE last_message_id END,
            last_activity_at = GREATEST(last_activity_at, p_at)
        WHERE id = p_conversation;
        UPDATE callbox_message SET conversation = p_conversation WHERE id = p_message;
    END
    $$
    """,
    # A status report about an outbound message: create or complete it, apply precedence.
    """
    CREATE FUNCTION callbox_apply_status(
        p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
        p_our_address text, e jsonb
    ) RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        v_status text := e->>'status';
        v_at timestamptz := (e->>'occurred_at')::timestamptz;
        v_created timestamptz := (e->>'created_at')::timestamptz;
        v_sent timestamptz := (e->>'sent_at')::timestamptz;
        m record;
    BEGIN
        INSERT INTO callbox_message AS cm (
            provider, receiver, provider_message_id, direction, channel, sender, recipient,
            body, status, provider_status, failure_reason, reference, status_occurred_at,
            created_at, sent_at, delivered_at, updated_at, occurred_at, metadata, is_test
        ) VALUES (
            p_provider, p_receiver, e->>'provider_message_id', 'OUTBOUND', e->>'channel',
            COALESCE(e->>'sender', p_our_address), e->>'recipient', e->>'body', v_status,
            e->>'provider_status', e->>'failure_reason', e->>'reference', v_at,
            COALESCE(v_created, p_received_at), v_sent,
            CASE WHEN v_status = 'DELIVERED' THEN COALESCE(v_at, p_received_at) END,
            p_received_at, COALESCE(v_sent, v_created, v_at, p_received_at),
            COALESCE(e->'metadata', '{}'), COALESCE((e->>'is_test')::boolean, false)
        )
        ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
            sender = COALESCE(cm.sender, excluded.sender),
            recipient = COALESCE(cm.recipient, excluded.recipient),
            body = COALESCE(cm.body, excluded.body),
            reference = COALESCE(cm.reference, excluded.reference),
            sent_at = COALESCE(cm.sent_at, excluded.sent_at),
            metadata = cm.metadata || excluded.metadata,
            is_test = cm.is_test OR excluded.is_test,
            updated_at = excluded.updated_at,
            status = CASE WHEN callbox_status_takes_over(
                    cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
                THEN excluded.status ELSE cm.status END,
            provider_status = CASE WHEN callbox_status_takes_over(
                    cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
                THEN excluded.provider_status ELSE cm.provider_status END,
            failure_reason = CASE WHEN callbox_status_takes_over(
                    cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
                THEN excluded.failure_reason ELSE cm.failure_reason END,
            delivered_at = CASE WHEN excluded.status = 'DELIVERED' AND callbox_status_takes_over(
                    cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
                THEN excluded.delivered_at ELSE cm.delivered_at END,
            status_occurred_at = CASE WHEN callbox_status_takes_over(
                    cm.status, cm.status_occurred_at, excluded.status, excluded.status_occurred_at)
                THEN excluded.status_occurred_at ELSE cm.status_occurred_at END
        RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at
        INTO m;
        INSERT INTO callbox_status_event (
            message, status, provider_status, failure_reason, occurred_at, received_at,
            notification, is_test
        ) VALUES (
            m.id, v_status, e->>'provider_status', e->>'failure_reason', v_at, p_received_at,
            p_notification, COALESCE((e->>'is_test')::boolean, false)
        );
        IF m.conversation IS NULL AND m.sender IS NOT NULL AND m.recipient IS NOT NULL THEN
            PERFORM callbox_join_conversation(m.id, m.channel, m.sender, m.recipient, m.occurred_at);
        END IF;
        RETURN m.id;
    END
    $$
    """,
    # An opt-out ledger row.
    """
    CREATE FUNCTION callbox_record_opt_out(
        p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
        p_address text, p_action text, p_channel text, p_source text, p_text text,
        p_at timestamptz, p_message bigint
    ) RETURNS void LANGUAGE sql AS $$
        INSERT INTO callbox_opt_out (
            address, action, channel, provider, receiver, source, text, occurred_at,
            received_at, message, notification
        ) VALUES (
            p_address, p_action, p_channel, p_provider, p_receiver, p_source, p_text,
            COALESCE(p_at, p_received_at), p_received_at, p_message, p_notification
        )
    $$
    """,
    # An inbound message: create it, thread it (a reply joins our message's thread).
    """
    CREATE FUNCTION callbox_apply_inbound(
        p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
        p_our_address text, e jsonb
    ) RETURNS bigint LANGUAGE plpgsql AS $$
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
        INSERT INTO callbox_message AS cm (
            provider, receiver, provider_message_id, direction, channel, sender, recipient,
            body, status, provider_status, status_occurred_at, created_at, updated_at,
            occurred_at, in_reply_to, metadata, is_test
        ) VALUES (
            p_provider, p_receiver, e->>'provider_message_id', 'INBOUND', e->>'channel',
            e->>'sender', v_recipient, e->>'body', 'RECEIVED', e->>'provider_status', v_at,
            p_received_at, p_received_at, COALESCE(v_at, p_received_at), e->>'in_reply_to',
            COALESCE(e->'metadata', '{}'), v_is_test
        )
        ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
            sender = COALESCE(cm.sender, excluded.sender),
            recipient = COALESCE(cm.recipient, excluded.recipient),
            body = COALESCE(cm.body, excluded.body),
            in_reply_to = COALESCE(cm.in_reply_to, excluded.in_reply_to),
            metadata = cm.metadata || excluded.metadata,
            updated_at = excluded.updated_at
        RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at
        INTO m;
        INSERT INTO callbox_status_event (
            message, status, provider_status, failure_reason, occurred_at, received_at,
            notification, is_test
        ) VALUES (
            m.id, 'RECEIVED', e->>'provider_status', NULL, v_at, p_received_at, p_notification,
            v_is_test
        );
        IF m.conversation IS NULL THEN
            IF v_replied_conversation IS NOT NULL THEN
                PERFORM callbox_attach_to_conversation(m.id, v_replied_conversation, m.occurred_at);
            ELSIF m.recipient IS NOT NULL AND m.sender IS NOT NULL THEN
                PERFORM callbox_join_conversation(
                    m.id, m.channel, m.recipient, m.sender, m.occurred_at);
            END IF;
        END IF;
        IF e->>'keyword_action' IS NOT NULL THEN
            PERFORM callbox_record_opt_out(
                p_receiver, p_provider, p_notification, p_received_at, e->>'sender',
                e->>'keyword_action', e->>'channel', 'keyword', e->>'body', v_at, m.id);
        END IF;
        RETURN m.id;
    END
    $$
    """,
    # Apply a notification's events, each once per receiver (dedupe keys claimed first).
    """
    CREATE FUNCTION callbox_apply_events(
        p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
        p_our_address text, p_events jsonb,
        OUT applied integer, OUT duplicates integer, OUT message_ids bigint[]
    ) LANGUAGE plpgsql AS $$
    DECLARE
        e jsonb;
        v_claimed bigint;
        v_message bigint;
    BEGIN
        applied := 0;
        duplicates := 0;
        message_ids := '{}';
        FOR e IN SELECT value FROM jsonb_array_elements(p_events) LOOP
            INSERT INTO callbox_applied_event (receiver, dedupe_key, notification, applied_at)
            VALUES (p_receiver, e->>'dedupe_key', p_notification, p_received_at)
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
                    v_message := callbox_apply_inbound(
                        p_receiver, p_provider, p_notification, p_received_at, p_our_address, e);
                    message_ids := message_ids || v_message;
                WHEN 'opt_out' THEN
                    PERFORM callbox_record_opt_out(
                        p_receiver, p_provider, p_notification, p_received_at, e->>'address',
                        e->>'action', e->>'channel', e->>'source', e->>'text',
                        (e->>'occurred_at')::timestamptz,
                        (SELECT id FROM callbox_message WHERE receiver = p_receiver
                            AND direction = 'OUTBOUND'
                            AND provider_message_id = e->>'provider_message_id'));
                ELSE
                    RAISE EXCEPTION 'unknown event kind %', e->>'kind';
            END CASE;
        END LOOP;
    END
    $$
    """,
    # One callback: store the raw request and apply its events, in the caller's transaction.
    """
    CREATE FUNCTION callbox_ingest(
        p_receiver text, p_provider text, p_received_at timestamptz, p_peer text,
        p_client text, p_method text, p_content_type text, p_headers jsonb, p_body bytea,
        p_body_size bigint, p_query_string text, p_our_address text, p_events jsonb,
        OUT notification_id bigint, OUT state text, OUT applied integer,
        OUT duplicates integer, OUT message_ids bigint[]
    ) LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO callbox_notification (
            receiver, provider, received_at, peer_address, client_address, method,
            content_type, headers, body, body_size, query_string, state, event_count,
            processed_at
        ) VALUES (
            p_receiver, p_provider, p_received_at, p_peer, p_client, p_method, p_content_type,
            p_headers, p_body, p_body_size, p_query_string, 'ACCEPTED',
            jsonb_array_length(p_events), clock_timestamp()
        ) RETURNING id INTO notification_id;
        SELECT a.applied, a.duplicates, a.message_ids INTO applied, duplicates, message_ids
        FROM callbox_apply_events(
            p_receiver, p_provider, notification_id, p_received_at, p_our_address, p_events
        ) AS a;
        state := 'ACCEPTED';
        IF applied = 0 AND duplicates > 0 THEN
            state := 'DUPLICATE';
            UPDATE callbox_notification SET state = 'DUPLICATE' WHERE id = notification_id;
        END IF;
    END
    $$
    """,
]

ROLLBACK = [
    "DROP FUNCTION callbox_ingest",
    "DROP FUNCTION callbox_apply_events",
    "DROP FUNCTION callbox_apply_inbound",
    "DROP FUNCTION callbox_record_opt_out",
    "DROP FUNCTION callbox_apply_status",
    "DROP FUNCTION callbox_attach_to_conversation",
    "DROP FUNCTION callbox_join_conversation",
    "DROP FUNCTION callbox_status_takes_over",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def create_functions() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    async def drop_functions() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in ROLLBACK:
            await engine.run_ddl(statement)

    manager.add_raw(create_functions)
    manager.add_raw_backwards(drop_functions)
    return manager
