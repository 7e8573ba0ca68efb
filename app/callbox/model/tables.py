"""Piccolo tables of the normalised model. The DDL lives in migrations/ (hand-written, with
the partial and composite indexes Piccolo's auto-migrations cannot express); a test
(tests/store/test_tables_match_database.py) checks these classes against the migrated database
both ways: every column declared here exists there with its type, nullability and keys, and
every column and ``callbox_*`` table there is declared here."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    Column,
    ForeignKey,
    Integer,
    OnDelete,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.querystring import QueryString
from piccolo.table import Table

from callbox.db.engine import DB


class Xid8(Column):
    """A Postgres ``xid8``: a 64-bit transaction id (asyncpg reads it as an int). Piccolo has
    no such column type. callbox_event.xid, the only one, is written by its database default,
    ``pg_current_xact_id()``, so a row saved through Piccolo leaves it to that default (as
    Piccolo does for a serial column)."""

    value_type = int

    @property
    def column_type(self) -> str:
        return "XID8"

    def default(self) -> QueryString:
        return QueryString("DEFAULT")


class Notification(Table, tablename="callbox_notification", db=DB):
    """One raw HTTP request to a receiver, stored before anything else happens to it."""

    id = BigSerial(primary_key=True)
    receiver = Varchar(length=64)
    provider = Varchar(length=32)
    received_at = Timestamptz()
    peer_address = Varchar(length=64)
    client_address = Varchar(length=64)
    method = Varchar(length=8)
    content_type = Text(null=True)
    headers = JSONB()
    body = Bytea(null=True)
    body_size = BigInt()
    query_string = Text()
    state = Varchar(length=16)
    reason = Text(null=True)
    event_count = Integer()
    processed_at = Timestamptz(null=True)


class PendingApply(Table, tablename="callbox_pending_apply", db=DB):
    """A stored request's parsed events, waiting to be applied (the queue of work: a row
    lives from the acknowledgement to the commit of its application)."""

    notification = ForeignKey(
        references=Notification, null=False, on_delete=OnDelete.cascade, primary_key=True
    )
    receiver = Varchar(length=64)
    provider = Varchar(length=32)
    received_at = Timestamptz()
    our_address = Text(null=True)
    events = JSONB()


class Conversation(Table, tablename="callbox_conversation", db=DB):
    """The thread between one of our addresses and one other party on one channel."""

    id = BigSerial(primary_key=True)
    channel = Varchar(length=8)
    our_address = Text()
    their_address = Text()
    created_at = Timestamptz()
    last_activity_at = Timestamptz()
    last_message_id = BigInt(null=True)
    message_count = Integer()


class Message(Table, tablename="callbox_message", db=DB):
    id = BigSerial(primary_key=True)
    provider = Varchar(length=32)
    receiver = Varchar(length=64)
    provider_message_id = Text()
    direction = Varchar(length=8)
    channel = Varchar(length=8)
    sender = Text(null=True)
    recipient = Text(null=True)
    body = Text(null=True)
    status = Varchar(length=16)
    provider_status = Text(null=True)
    failure_reason = Varchar(length=24, null=True)
    reference = Text(null=True)
    status_occurred_at = Timestamptz(null=True)
    created_at = Timestamptz()
    sent_at = Timestamptz(null=True)
    delivered_at = Timestamptz(null=True)
    updated_at = Timestamptz()
    occurred_at = Timestamptz()
    received_at = Timestamptz()
    """When Callbox first learnt of the message (a request's arrival, or its record); retention
    counts from it."""
    conversation = ForeignKey(references=Conversation, null=True, on_delete=OnDelete.set_null)
    in_reply_to = Text(null=True)
    metadata = JSONB()
    is_test = Boolean()
    subject = Text(null=True)
    """E-mail: the subject line."""
    opened_at = Timestamptz(null=True)
    """The first open reported (by the provider's time), e-mail."""
    clicked_at = Timestamptz(null=True)
    """The first click reported (by the provider's time), e-mail."""


class StatusEvent(Table, tablename="callbox_status_event", db=DB):
    """Append-only history: every report about a message, in any order, as received."""

    id = BigSerial(primary_key=True)
    message = ForeignKey(references=Message, null=False, on_delete=OnDelete.cascade)
    status = Varchar(length=16)
    provider_status = Text(null=True)
    failure_reason = Varchar(length=24, null=True)
    occurred_at = Timestamptz(null=True)
    received_at = Timestamptz()
    notification = ForeignKey(references=Notification, null=True, on_delete=OnDelete.set_null)
    is_test = Boolean()
    kind = Varchar(length=16, default="STATUS")
    """``ReportKind``: only a STATUS report may change the message's status."""
    bounce_type = Varchar(length=16, null=True)
    """``BounceType``, when the report is a bounce."""
    detail = Text(null=True)
    """What the provider said of it: an SMTP answer, the link clicked..."""


class OptOut(Table, tablename="callbox_opt_out", db=DB):
    """The opt-out ledger: the latest row per address says whether it is opted out."""

    id = BigSerial(primary_key=True)
    address = Text()
    action = Varchar(length=8)
    channel = Varchar(length=8)
    provider = Varchar(length=32)
    receiver = Varchar(length=64)
    source = Varchar(length=16)
    text = Text(null=True)
    occurred_at = Timestamptz()
    received_at = Timestamptz()
    message = ForeignKey(references=Message, null=True, on_delete=OnDelete.set_null)
    notification = ForeignKey(references=Notification, null=True, on_delete=OnDelete.set_null)


class AppliedEvent(Table, tablename="callbox_applied_event", db=DB):
    """Dedupe keys of applied events; unique per receiver, so a retry applies nothing."""

    id = BigSerial(primary_key=True)
    receiver = Varchar(length=64)
    dedupe_key = Text()
    notification = ForeignKey(references=Notification, null=True, on_delete=OnDelete.set_null)
    applied_at = Timestamptz()


class Event(Table, tablename="callbox_event", db=DB):
    """The event log live subscriptions read: one row per applied change.

    ``xid`` is the writing transaction's id: subscriptions read rows in (xid, id) order below
    the oldest running transaction, so a cursor never skips a row that commits later. See the
    migration that creates it.
    """

    id = BigSerial(primary_key=True)
    xid = Xid8()
    kind = Varchar(length=16)
    receiver = Varchar(length=64)
    direction = Varchar(length=8, null=True)
    message = BigInt(null=True)
    status_event = BigInt(null=True)
    conversation = BigInt(null=True)
    opt_out = BigInt(null=True)
    address = Text(null=True)
    created_at = Timestamptz()


class MessagePart(Table, tablename="callbox_message_part", db=DB):
    """One part of a long inbound message delivered in several callbacks: the part's inbound
    event, waiting until every part of its group is in; ``message`` is the message they were
    joined into (``callbox_apply_inbound_part``)."""

    id = BigSerial(primary_key=True)
    receiver = Varchar(length=64)
    part_group = Text()
    part_number = Integer()
    part_count = Integer()
    event = JSONB()
    received_at = Timestamptz()
    notification = ForeignKey(references=Notification, null=False, on_delete=OnDelete.cascade)
    message = ForeignKey(references=Message, null=True, on_delete=OnDelete.cascade)


class InstanceKey(Table, tablename="callbox_instance_key", db=DB):
    """The one key that seals the ids and cursors GraphQL clients see (callbox.sealing)."""

    id = Integer(primary_key=True)
    key = Bytea()
    created_at = Timestamptz()


ALL_TABLES: tuple[type[Table], ...] = (
    Notification,
    PendingApply,
    Conversation,
    Message,
    StatusEvent,
    OptOut,
    AppliedEvent,
    Event,
    MessagePart,
    InstanceKey,
)
