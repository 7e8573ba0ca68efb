"""Event log for live subscriptions: every applied change, in an order clients can resume.

Each applied event (a message received, a status reported, an outbound message recorded, an
opt-out) adds a row to ``callbox_event`` in the same transaction, and ``callbox_ingest``
sends ``pg_notify('callbox_events', <notification id>)``, delivered to listeners only after
commit. The row carries its transaction id (``xid8``): a reader takes rows whose transaction
id is below the oldest transaction still running (``pg_snapshot_xmin``), in (xid, id) order,
so no row can later appear before one it has already passed, whatever order transactions
commit in. That pair is the subscription cursor.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T21:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "event log and notifications for subscriptions"

STATEMENTS = [
    """
    CREATE TABLE callbox_event (
        id bigserial PRIMARY KEY,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        kind varchar(16) NOT NULL,
        receiver varchar(64) NOT NULL,
        direction varchar(8),
        message bigint,
        status_event bigint,
        conversation bigint,
        opt_out bigint,
        address text,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX callbox_event_order ON callbox_event (xid, id)",
    "CREATE INDEX callbox_event_created ON callbox_event (created_at)",
    # The opt-out ledger row's id is now returned, for the event that points at it.
    "DROP FUNCTION callbox_record_opt_out",
    """
    CREATE FUNCTION callbox_record_opt_out(
        p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
        p_address text, p_action text, p_channel text, p_source text, p_text text,
        p_at timestamptz, p_message bigint
    ) RETURNS bigint LANGUAGE sql AS $$
        INSERT INTO callbox_opt_out (
            address, action, channel, provider, receiver, source, text, occurred_at,
            received_at, message, notification
        ) VALUES (
            p_address, p_action, p_channel, p_provider, p_receiver, p_source, p_text,
            COALESCE(p_at, p_received_at), p_received_at, p_message, p_notification
        )
        RETURNING id
    $$
    """,
    """
    CREATE FUNCTION callbox_emit_event(
        p_kind text, p_receiver text, p_direction text, p_message bigint,
        p_status_event bigint, p_conversation bigint, p_opt_out bigint, p_address text
    ) RETURNS void LANGUAGE sql AS $$
        INSERT INTO callbox_event (
            kind, receiver, direction, message, status_event, conversation, opt_out, address
        ) VALUES (
            p_kind, p_receiver, p_direction, p_message, p_status_event, p_conversation,
            p_opt_out, p_address
        )
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION callbox_apply_status(
        p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
        p_our_address text, e jsonb
    ) RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        v_status text := e->>'status';
        v_at timestamptz := (e->>'occurred_at')::timestamptz;
        v_created timestamptz := (e->>'created_at')::timestamptz;
        v_sent timestamptz := (e->>'sent_at')::timestamptz;
        m record;
        v_status_event bigint;
        v_conversation bigint;
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
        ) RETURNING id INTO v_status_event;
        v_conversation := m.conversation;
        IF m.conversation IS NULL AND m.sender IS NOT NULL AND m.recipient IS NOT NULL THEN
            v_conversation := callbox_join_conversation(
                m.id, m.channel, m.sender, m.recipient, m.occurred_at);
        END IF;
        PERFORM callbox_emit_event(
            'STATUS_CHANGED', p_receiver, 'OUTBOUND', m.id, v_status_event, v_conversation,
            NULL, m.recipient);
        RETURN m.id;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION callbox_apply_inbound(
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
        v_status_event bigint;
        v_conversation bigint;
        v_opt_out bigint;
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
        ) RETURNING id INTO v_status_event;
        v_conversation := m.conversation;
        IF m.conversation IS NULL THEN
            IF v_replied_conversation IS NOT NULL THEN
                PERFORM callbox_attach_to_conversation(m.id, v_replied_conversation, m.occurred_at);
                v_conversation := v_replied_conversation;
            ELSIF m.recipient IS NOT NULL AND m.sender IS NOT NULL THEN
                v_conversation := callbox_join_conversation(
                    m.id, m.channel, m.recipient, m.sender, m.occurred_at);
            END IF;
        END IF;
        PERFORM callbox_emit_event(
            'RECEIVED', p_receiver, 'INBOUND', m.id, v_status_event, v_conversation, NULL,
            m.sender);
        IF e->>'keyword_action' IS NOT NULL THEN
            v_opt_out := callbox_record_opt_out(
                p_receiver, p_provider, p_notification, p_received_at, e->>'sender',
                e->>'keyword_action', e->>'channel', 'keyword', e->>'body', v_at, m.id);
            PERFORM callbox_emit_event(
                'OPTED_OUT', p_receiver, 'INBOUND', m.id, NULL, v_conversation, v_opt_out,
                e->>'sender');
        END IF;
        RETURN m.id;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION callbox_apply_events(
        p_receiver text, p_provider text, p_notification bigint, p_received_at timestamptz,
        p_our_address text, p_events jsonb,
        OUT applied integer, OUT duplicates integer, OUT message_ids bigint[]
    ) LANGUAGE plpgsql AS $$
    DECLARE
        e jsonb;
        v_claimed bigint;
        v_message bigint;
        v_opt_out bigint;
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
                    v_message := (SELECT id FROM callbox_message WHERE receiver = p_receiver
                        AND direction = 'OUTBOUND'
                        AND provider_message_id = e->>'provider_message_id');
                    v_opt_out := callbox_record_opt_out(
                        p_receiver, p_provider, p_notification, p_received_at, e->>'address',
                        e->>'action', e->>'channel', e->>'source', e->>'text',
                        (e->>'occurred_at')::timestamptz, v_message);
                    PERFORM callbox_emit_event(
                        'OPTED_OUT', p_receiver, NULL, v_message, NULL,
                        (SELECT conversation FROM callbox_message WHERE id = v_message),
                        v_opt_out, e->>'address');
                ELSE
                    RAISE EXCEPTION 'unknown event kind %', e->>'kind';
            END CASE;
        END LOOP;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION callbox_ingest(
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
        IF applied > 0 THEN
            -- Listeners wake up after commit and read callbox_event from their cursor.
            PERFORM pg_notify('callbox_events', notification_id::text);
        END IF;
        IF applied = 0 AND duplicates > 0 THEN
            state := 'DUPLICATE';
            UPDATE callbox_notification SET state = 'DUPLICATE' WHERE id = notification_id;
        END IF;
    END
    $$
    """,
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def create() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create)
    return manager
