"""Initial schema: raw notifications, messages, status history, conversations, opt-outs."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "initial schema"

STATEMENTS = [
    """
    CREATE TABLE callbox_notification (
        id bigserial PRIMARY KEY,
        receiver varchar(64) NOT NULL,
        provider varchar(32) NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        peer_address varchar(64) NOT NULL,
        client_address varchar(64) NOT NULL,
        method varchar(8) NOT NULL,
        content_type text,
        headers jsonb NOT NULL DEFAULT '{}',
        body bytea,
        body_size bigint NOT NULL,
        query_string text NOT NULL DEFAULT '',
        state varchar(16) NOT NULL,
        reason text,
        event_count integer NOT NULL DEFAULT 0,
        processed_at timestamptz
    )
    """,
    "CREATE INDEX callbox_notification_receiver_received"
    " ON callbox_notification (receiver, received_at DESC, id DESC)",
    "CREATE INDEX callbox_notification_received ON callbox_notification (received_at, id)",
    "CREATE INDEX callbox_notification_rejected ON callbox_notification (receiver, id)"
    " WHERE state = 'REJECTED'",
    """
    CREATE TABLE callbox_conversation (
        id bigserial PRIMARY KEY,
        channel varchar(8) NOT NULL,
        our_address text NOT NULL,
        their_address text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_activity_at timestamptz NOT NULL,
        last_message_id bigint,
        message_count integer NOT NULL DEFAULT 0,
        CONSTRAINT callbox_conversation_parties UNIQUE (channel, our_address, their_address)
    )
    """,
    "CREATE INDEX callbox_conversation_activity"
    " ON callbox_conversation (last_activity_at DESC, id DESC)",
    "CREATE INDEX callbox_conversation_their ON callbox_conversation (their_address)",
    """
    CREATE TABLE callbox_message (
        id bigserial PRIMARY KEY,
        provider varchar(32) NOT NULL,
        receiver varchar(64) NOT NULL,
        provider_message_id text NOT NULL,
        direction varchar(8) NOT NULL,
        channel varchar(8) NOT NULL,
        sender text,
        recipient text,
        body text,
        status varchar(16) NOT NULL,
        provider_status text,
        failure_reason varchar(24),
        reference text,
        status_occurred_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        sent_at timestamptz,
        delivered_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        occurred_at timestamptz NOT NULL DEFAULT now(),
        conversation bigint REFERENCES callbox_conversation (id) ON DELETE SET NULL,
        in_reply_to text,
        metadata jsonb NOT NULL DEFAULT '{}',
        is_test boolean NOT NULL DEFAULT false,
        CONSTRAINT callbox_message_identity UNIQUE (receiver, direction, provider_message_id)
    )
    """,
    "CREATE INDEX callbox_message_occurred ON callbox_message (occurred_at DESC, id DESC)",
    "CREATE INDEX callbox_message_conversation"
    " ON callbox_message (conversation, occurred_at DESC, id DESC)",
    "CREATE INDEX callbox_message_sender ON callbox_message (sender, occurred_at DESC, id DESC)",
    "CREATE INDEX callbox_message_recipient"
    " ON callbox_message (recipient, occurred_at DESC, id DESC)",
    """
    CREATE TABLE callbox_status_event (
        id bigserial PRIMARY KEY,
        message bigint NOT NULL REFERENCES callbox_message (id) ON DELETE CASCADE,
        status varchar(16) NOT NULL,
        provider_status text,
        failure_reason varchar(24),
        occurred_at timestamptz,
        received_at timestamptz NOT NULL DEFAULT now(),
        notification bigint REFERENCES callbox_notification (id) ON DELETE SET NULL,
        is_test boolean NOT NULL DEFAULT false
    )
    """,
    "CREATE INDEX callbox_status_event_message ON callbox_status_event (message, id)",
    "CREATE INDEX callbox_status_event_notification ON callbox_status_event (notification)",
    """
    CREATE TABLE callbox_opt_out (
        id bigserial PRIMARY KEY,
        address text NOT NULL,
        action varchar(8) NOT NULL,
        channel varchar(8) NOT NULL,
        provider varchar(32) NOT NULL,
        receiver varchar(64) NOT NULL,
        source varchar(16) NOT NULL,
        text text,
        occurred_at timestamptz NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        message bigint REFERENCES callbox_message (id) ON DELETE SET NULL,
        notification bigint REFERENCES callbox_notification (id) ON DELETE SET NULL
    )
    """,
    "CREATE INDEX callbox_opt_out_address ON callbox_opt_out (address, id DESC)",
    "CREATE INDEX callbox_opt_out_notification ON callbox_opt_out (notification)",
    """
    CREATE TABLE callbox_applied_event (
        id bigserial PRIMARY KEY,
        receiver varchar(64) NOT NULL,
        dedupe_key text NOT NULL,
        notification bigint REFERENCES callbox_notification (id) ON DELETE SET NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT callbox_applied_event_key UNIQUE (receiver, dedupe_key)
    )
    """,
    "CREATE INDEX callbox_applied_event_notification ON callbox_applied_event (notification)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="callbox", description=DESCRIPTION)

    async def create_schema() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(create_schema)
    return manager
