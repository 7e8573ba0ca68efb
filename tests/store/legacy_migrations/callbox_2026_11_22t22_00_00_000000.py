"""Ingest writes less: a new message goes into its existing conversation as it is inserted,
and a redundant conversation index is dropped.

Before, a message was inserted without a conversation and then updated to point at one.
``conversation`` is indexed, so that update was never a HOT update: it wrote a second entry
in each of the message's eleven indexes (pg_waldump: 35.7 B-tree entries per Notify receipt,
24.4 after this). The apply functions now look the conversation up first and insert the
message in it; only a message that starts a conversation (or completes one already stored)
is still updated afterwards.

``callbox_conversation_their (their_address)`` is a prefix of
``callbox_conversation_their_activity``, which answers every lookup it did; every
conversation update (its last activity is indexed) wrote both.
"""

import importlib.util
from pathlib import Path

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T22:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "insert new messages into their conversation; drop a redundant index"

_REPLACED = {
    "callbox_2026_11_22t16_00_00_000000.py": ("callbox_attach_to_conversation",),
    "callbox_2026_11_22t21_00_00_000000.py": ("callbox_apply_status", "callbox_apply_inbound"),
}

STATEMENTS = [
    "DROP INDEX IF EXISTS callbox_conversation_their",
    """
    CREATE FUNCTION callbox_find_conversation(p_channel text, p_our text, p_their text)
    RETURNS bigint LANGUAGE sql STABLE AS $$
        SELECT id FROM callbox_conversation
        WHERE channel = p_channel AND our_address = p_our AND their_address = p_their
    $$
    """,
    """
    CREATE FUNCTION callbox_count_in_conversation(
        p_message bigint, p_conversation bigint, p_at timestamptz
    ) RETURNS void LANGUAGE sql AS $$
        UPDATE callbox_conversation SET
            message_count = message_count + 1,
            last_message_id = CASE WHEN p_at >= last_activity_at
                THEN p_message ELSE last_message_id END,
            last_activity_at = GREATEST(last_activity_at, p_at)
        WHERE id = p_conversation
    $$
    """,
    # The counting rule in one place: attaching to a known conversation is counting in it,
    # then pointing the (already stored) message at it.
    """
    CREATE OR REPLACE FUNCTION callbox_attach_to_conversation(
        p_message bigint, p_conversation bigint, p_at timestamptz
    ) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM callbox_count_in_conversation(p_message, p_conversation, p_at);
        UPDATE callbox_message SET conversation = p_conversation WHERE id = p_message;
    END
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
        v_sender text := COALESCE(e->>'sender', p_our_address);
        v_known bigint;
    BEGIN
        -- The thread it belongs in, when it exists already: a new message is inserted in
        -- it at once, rather than inserted and then updated (which rewrites every index).
        IF e->>'recipient' IS NOT NULL THEN
            v_known := callbox_find_conversation(e->>'channel', v_sender, e->>'recipient');
        END IF;
        INSERT INTO callbox_message AS cm (
            provider, receiver, provider_message_id, direction, channel, sender, recipient,
            body, status, provider_status, failure_reason, reference, status_occurred_at,
            created_at, sent_at, delivered_at, updated_at, occurred_at, metadata, is_test,
            conversation
        ) VALUES (
            p_provider, p_receiver, e->>'provider_message_id', 'OUTBOUND', e->>'channel',
            v_sender, e->>'recipient', e->>'body', v_status,
            e->>'provider_status', e->>'failure_reason', e->>'reference', v_at,
            COALESCE(v_created, p_received_at), v_sent,
            CASE WHEN v_status = 'DELIVERED' THEN COALESCE(v_at, p_received_at) END,
            p_received_at, COALESCE(v_sent, v_created, v_at, p_received_at),
            COALESCE(e->'metadata', '{}'), COALESCE((e->>'is_test')::boolean, false), v_known
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
        RETURNING cm.id, cm.conversation, cm.sender, cm.recipient, cm.channel, cm.occurred_at,
            cm.xmax = 0 AS inserted
        INTO m;
        INSERT INTO callbox_status_event (
            message, status, provider_status, failure_reason, occurred_at, received_at,
            notification, is_test
        ) VALUES (
            m.id, v_status, e->>'provider_status', e->>'failure_reason', v_at, p_received_at,
            p_notification, COALESCE((e->>'is_test')::boolean, false)
        ) RETURNING id INTO v_status_event;
        v_conversation := m.conversation;
        IF m.inserted AND v_known IS NOT NULL THEN
            PERFORM callbox_count_in_conversation(m.id, v_known, m.occurred_at);
        ELSIF m.conversation IS NULL AND m.sender IS NOT NULL AND m.recipient IS NOT NULL THEN
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
        v_known bigint;
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
            occurred_at, in_reply_to, metadata, is_test, conversation
        ) VALUES (
            p_provider, p_receiver, e->>'provider_message_id', 'INBOUND', e->>'channel',
            e->>'sender', v_recipient, e->>'body', 'RECEIVED', e->>'provider_status', v_at,
            p_received_at, p_received_at, COALESCE(v_at, p_received_at), e->>'in_reply_to',
            COALESCE(e->'metadata', '{}'), v_is_test, v_known
        )
        ON CONFLICT (receiver, direction, provider_message_id) DO UPDATE SET
            sender = COALESCE(cm.sender, excluded.sender),
            recipient = COALESCE(cm.recipient, excluded.recipient),
            body = COALESCE(cm.body, excluded.body),
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
        v_conversation := m.conversation;
        IF m.inserted AND v_known IS NOT NULL THEN
            PERFORM callbox_count_in_conversation(m.id, v_known, m.occurred_at);
        ELSIF m.conversation IS NULL THEN
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
]


def _previous_definitions() -> list[str]:
    """The functions this migration replaces, as earlier migrations defined them (what
    rolling back restores), read from those migrations rather than copied here."""
    found: list[str] = []
    for migration, names in _REPLACED.items():
        path = Path(__file__).with_name(migration)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        statements: list[str] = module.STATEMENTS
        found += [
            s.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
            for s in statements
            if any(f"FUNCTION {name}(" in s for name in names)
        ]
    return found


def rollback() -> list[str]:
    return [
        *_previous_definitions(),
        "DROP FUNCTION callbox_count_in_conversation",
        "DROP FUNCTION callbox_find_conversation",
        "CREATE INDEX IF NOT EXISTS callbox_conversation_their"
        " ON callbox_conversation (their_address)",
    ]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def run(statements: list[str]) -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in statements:
            await engine.run_ddl(statement)

    async def apply() -> None:
        await run(STATEMENTS)

    async def roll_back() -> None:
        await run(rollback())

    manager.add_raw(apply)
    manager.add_raw_backwards(roll_back)
    return manager
