"""Postmark webhooks (e-mail): delivery, bounce, spam complaint, open, click and
subscription change events, and inbound e-mail.

Postmark posts one JSON object per request. ``RecordType`` says what it is: ``Delivery``,
``Bounce`` (``Type`` says which: ``HardBounce``, ``SoftBounce``, ``Transient``...),
``SpamComplaint``, ``Open``, ``Click``, ``SubscriptionChange``; an inbound e-mail has no
``RecordType`` (or ``Inbound``) and carries ``FromFull``, ``Subject``, ``TextBody``. One URL
can take them all. Field names are matched case-insensitively, since Postmark's casing drifts
(``ServerId`` and ``ServerID``); ``DeliveredAt`` carries 7 fractional digits and an offset.

Postmark does not sign its webhooks: protect the receiver with basic auth in the URL
(``https://user:pass@…``, ``auth.basic``) and, optionally, Postmark's published addresses
(``auth.ip_allow``).

**Identity**: an outbound message is Postmark's ``MessageID`` (what its send API returns);
an inbound e-mail its own ``MessageID``. Dedupe keys: ``status:delivery:{MessageID}:
{Recipient}``, ``status:open:`` / ``status:click:{MessageID}:{Recipient}:{ReceivedAt}`` (a
click also with its link's hash), ``status:bounce:{ID}`` and ``optout:bounce:{ID}`` (Postmark's
bounce id), ``optout:subscription:{Recipient}:{ChangedAt}:{SuppressSending}``,
``inbound:{MessageID}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from callbox.model.vocabulary import (
    BounceType,
    Channel,
    FailureReason,
    OptOutSource,
    ReportKind,
    Status,
)
from callbox.providers.base import (
    Event,
    InboundRequest,
    JSONValue,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    Provider,
    ReceiverContext,
    SamplePayload,
    StatusReported,
)
from callbox.providers.email_headers import header_date, mailbox, required_mailbox
from callbox.providers.payloads import (
    decode_json_object,
    fold_keys,
    json_kind,
    optional_str,
    parse_timestamp,
    text_value,
)

POSTMARK_RECORD_TYPES: dict[str, tuple[Status, FailureReason | None, ReportKind]] = {
    "Delivery": (Status.DELIVERED, None, ReportKind.STATUS),
    # Opening and clicking imply delivery (for a message first known from one); neither
    # changes the status.
    "Open": (Status.DELIVERED, None, ReportKind.OPENED),
    "Click": (Status.DELIVERED, None, ReportKind.CLICKED),
}

# Postmark's bounce types (its "Bounce webhook" and "Bounce API" pages). Soft bounces and
# delays do not end the message; replies from the mailbox (auto-responders, address changes,
# subscribe requests) prove it was delivered.
POSTMARK_BOUNCE_TYPES: dict[
    str, tuple[Status, FailureReason | None, ReportKind, BounceType | None]
] = {
    "HardBounce": (Status.FAILED, FailureReason.PERMANENT, ReportKind.STATUS, BounceType.HARD),
    "Transient": (Status.SENT, None, ReportKind.DEFERRED, BounceType.SOFT),
    "Unsubscribe": (Status.DELIVERED, None, ReportKind.UNSUBSCRIBED, None),
    "Subscribe": (Status.DELIVERED, None, ReportKind.STATUS, None),
    "AutoResponder": (Status.DELIVERED, None, ReportKind.STATUS, None),
    "AddressChange": (Status.DELIVERED, None, ReportKind.STATUS, None),
    "DnsError": (Status.SENT, None, ReportKind.DEFERRED, BounceType.SOFT),
    "SpamNotification": (
        Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.BLOCKED,
    ),
    # The receiving server testing Postmark as an open relay: nothing about delivery.
    "OpenRelayTest": (Status.UNKNOWN, None, ReportKind.STATUS, None),
    "Unknown": (Status.FAILED, FailureReason.UNKNOWN, ReportKind.STATUS, BounceType.UNDETERMINED),
    "SoftBounce": (Status.SENT, None, ReportKind.DEFERRED, BounceType.SOFT),
    "VirusNotification": (
        Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.BLOCKED,
    ),
    # Held by a challenge-response filter until the sender proves itself.
    "ChallengeVerification": (Status.SENT, None, ReportKind.DEFERRED, None),
    "BadEmailAddress": (
        Status.FAILED, FailureReason.INVALID_RECIPIENT, ReportKind.STATUS, BounceType.HARD,
    ),
    "SpamComplaint": (Status.DELIVERED, None, ReportKind.COMPLAINED, None),
    "ManuallyDeactivated": (
        Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.SUPPRESSED,
    ),
    # The sender signature was not confirmed: Postmark would not send.
    "Unconfirmed": (Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, None),
    "Blocked": (Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.BLOCKED),
    "SMTPApiError": (Status.FAILED, FailureReason.TECHNICAL, ReportKind.STATUS, None),
    # About processing an inbound e-mail, not the delivery of ours.
    "InboundError": (Status.UNKNOWN, None, ReportKind.STATUS, None),
    "DMARCPolicy": (Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.BLOCKED),
    "TemplateRenderingFailed": (Status.FAILED, FailureReason.TECHNICAL, ReportKind.STATUS, None),
}  # fmt: skip

POSTMARK_BOUNCE_OPT_OUTS: dict[str, OptOutSource] = {
    "Unsubscribe": OptOutSource.UNSUBSCRIBE,
    "SpamComplaint": OptOutSource.COMPLAINT,
}
"""Bounce types that opt the recipient out. Any other bounce that deactivated the address
(``Inactive: true``) is a suppression."""

POSTMARK_SUPPRESSION_REASONS: dict[str, OptOutSource] = {
    "HardBounce": OptOutSource.SUPPRESSION,
    "SpamComplaint": OptOutSource.COMPLAINT,
    "ManualSuppression": OptOutSource.SUPPRESSION,
}
"""A ``SubscriptionChange``'s ``SuppressionReason``; a manual suppression (or reactivation)
whose ``Origin`` is the recipient is an unsubscribe (or a subscribe again)."""

_EXPECTED = (
    "expected a Postmark webhook (RecordType Delivery, Bounce, SpamComplaint, Open, Click or"
    " SubscriptionChange) or an inbound e-mail (FromFull, Subject, TextBody, MessageID)"
)


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    fields = fold_keys(decode_json_object(request.body))
    record_type = optional_str(fields, "recordtype")
    if record_type in (None, "Inbound"):
        if "fromfull" in fields or "from" in fields:
            return [parse_inbound(fields)]
        keys = ", ".join(sorted(fields)) or "none"
        raise PayloadRejected(f"{_EXPECTED}; got fields: {keys}")
    if record_type in ("Bounce", "SpamComplaint"):
        return parse_bounce(fields)
    if record_type == "SubscriptionChange":
        return [parse_subscription_change(fields)]
    return [parse_tracking(fields, record_type)]


def parse_tracking(fields: Mapping[str, Any], record_type: str) -> StatusReported:
    """Delivery, Open, Click, or a record type Callbox does not know (kept as UNKNOWN)."""
    message_id = _required(fields, "messageid", "MessageID")
    status, reason, kind = POSTMARK_RECORD_TYPES.get(
        record_type, (Status.UNKNOWN, None, ReportKind.STATUS)
    )
    recipient = mailbox(optional_str(fields, "recipient"), field="Recipient")
    time_field = "DeliveredAt" if record_type == "Delivery" else "ReceivedAt"
    at_text = optional_str(fields, time_field.lower())
    link = optional_str(fields, "originallink")
    key = f"{record_type.lower()}:{message_id}:{recipient or ''}"
    if kind is not ReportKind.STATUS or status is Status.UNKNOWN:
        key += f":{at_text or ''}"  # each open and click is its own report
    if link is not None:
        key += ":" + hashlib.sha256(link.encode()).hexdigest()[:12]
    return StatusReported(
        dedupe_key=f"status:{key}",
        provider_message_id=message_id,
        channel=Channel.EMAIL,
        status=status,
        provider_status=record_type,
        failure_reason=reason,
        occurred_at=_time(at_text, time_field),
        recipient=recipient,
        metadata=_tracking_metadata(fields),
        kind=kind,
        detail=link if kind is ReportKind.CLICKED else optional_str(fields, "details"),
    )


def parse_bounce(fields: Mapping[str, Any]) -> list[Event]:
    """A bounce or spam complaint: a report on the message (when it is named) and, for an
    unsubscribe, a complaint or a deactivated address, an opt-out of the recipient."""
    bounce_type = _required(fields, "type", "Type")
    status, reason, kind, bounce = POSTMARK_BOUNCE_TYPES.get(
        bounce_type, (Status.UNKNOWN, None, ReportKind.STATUS, None)
    )
    message_id = optional_str(fields, "messageid")
    recipient = mailbox(optional_str(fields, "email"), field="Email")
    bounce_id = optional_str(fields, "id")
    at_text = optional_str(fields, "bouncedat")
    identity = (
        f"bounce:{bounce_id}" if bounce_id else f"bounce:{message_id}:{bounce_type}:{at_text}"
    )
    occurred_at = _time(at_text, "BouncedAt")
    detail = optional_str(fields, "details") or optional_str(fields, "description")
    events: list[Event] = []
    if message_id is not None:
        events.append(
            StatusReported(
                dedupe_key=f"status:{identity}",
                provider_message_id=message_id,
                channel=Channel.EMAIL,
                status=status,
                provider_status=bounce_type,
                failure_reason=reason,
                occurred_at=occurred_at,
                recipient=recipient,
                sender=mailbox(optional_str(fields, "from"), field="From"),
                metadata=_tracking_metadata(fields),
                kind=kind,
                bounce_type=bounce,
                detail=detail,
                subject=text_value(fields, "subject"),
            )
        )
    source = POSTMARK_BOUNCE_OPT_OUTS.get(bounce_type)
    if source is None and fields.get("inactive") is True:
        source = OptOutSource.SUPPRESSION  # Postmark deactivated the address
    if source is not None and (recipient or message_id):
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{identity}",
                # Unsubscribe bounces may come without Email (django-anymail#447): the
                # ledger then takes the recipient of the message.
                address=recipient,
                channel=Channel.EMAIL,
                occurred_at=occurred_at,
                source=source,
                provider_message_id=message_id,
                text=f"{bounce_type}: {detail}" if detail else bounce_type,
            )
        )
    if not events:
        raise PayloadRejected("Postmark bounce without MessageID or Email: nothing to record")
    return events


def parse_subscription_change(fields: Mapping[str, Any]) -> OptOutReported:
    """An address added to (``SuppressSending: true``) or removed from a message stream's
    suppression list."""
    recipient = required_mailbox(_required(fields, "recipient", "Recipient"), field="Recipient")
    suppress = fields.get("suppresssending")
    if not isinstance(suppress, bool):
        raise PayloadRejected(
            f"SuppressSending: expected true or false, got a JSON {json_kind(suppress)}"
        )
    reason = optional_str(fields, "suppressionreason")
    origin = optional_str(fields, "origin")
    if reason in (None, "ManualSuppression") and origin == "Recipient":
        source = OptOutSource.UNSUBSCRIBE
    else:
        source = POSTMARK_SUPPRESSION_REASONS.get(reason or "", OptOutSource.SUPPRESSION)
    at_text = optional_str(fields, "changedat")
    what = reason if suppress else "reactivated"
    return OptOutReported(
        dedupe_key=f"optout:subscription:{recipient}:{at_text}:{suppress}",
        address=recipient,
        channel=Channel.EMAIL,
        occurred_at=_time(at_text, "ChangedAt"),
        source=source,
        opted_in=not suppress,
        provider_message_id=optional_str(fields, "messageid"),
        text=f"SubscriptionChange: {what} ({origin or 'origin not given'})",
    )


def parse_inbound(fields: Mapping[str, Any]) -> MessageReceived:
    message_id = _required(fields, "messageid", "MessageID")
    from_full = _object(fields, "fromfull", "FromFull")
    sender = mailbox(optional_str(from_full, "Email"), field="FromFull.Email") or (
        required_mailbox(optional_str(fields, "from"), field="From")
    )
    to_full = _list(fields, "tofull", "ToFull")
    first_to = to_full[0] if to_full and isinstance(to_full[0], dict) else {}
    recipient = (
        mailbox(optional_str(fields, "originalrecipient"), field="OriginalRecipient")
        or mailbox(optional_str(first_to, "Email"), field="ToFull.Email")
        or mailbox(optional_str(fields, "to"), field="To")
    )
    return MessageReceived(
        dedupe_key=f"inbound:{message_id}",
        provider_message_id=message_id,
        channel=Channel.EMAIL,
        sender=sender,
        recipient=recipient,
        body=text_value(fields, "textbody") or None,
        occurred_at=header_date(optional_str(fields, "date"), field="Date"),
        metadata=_inbound_metadata(fields),
        subject=text_value(fields, "subject"),
    )


def _required(fields: Mapping[str, Any], key: str, name: str) -> str:
    """A required field, looked up by its folded name and named as Postmark spells it."""
    value = optional_str(fields, key)
    if value is None:
        raise PayloadRejected(f"missing required field {name!r}")
    return value


def _time(value: str | None, field: str) -> datetime | None:
    return parse_timestamp(value, field=field) if value is not None else None


def _object(fields: Mapping[str, Any], key: str, name: str) -> dict[str, Any]:
    value = fields.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadRejected(f"{name}: expected an object, got a JSON {json_kind(value)}")
    return value


def _list(fields: Mapping[str, Any], key: str, name: str) -> list[Any]:
    value = fields.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadRejected(f"{name}: expected a list, got a JSON {json_kind(value)}")
    return value


def _tracking_metadata(fields: Mapping[str, Any]) -> dict[str, JSONValue]:
    """Postmark's tag, the sender's metadata, the message stream and server (non-empty)."""
    names = {"tag": "Tag", "metadata": "Metadata", "messagestream": "MessageStream"}
    names["serverid"] = "ServerID"
    return {name: fields[key] for key, name in names.items() if fields.get(key) not in (None, "")}


def _inbound_metadata(fields: Mapping[str, Any]) -> dict[str, JSONValue]:
    metadata: dict[str, JSONValue] = {}
    for key, name in (
        ("mailboxhash", "MailboxHash"),
        ("tag", "Tag"),
        ("messagestream", "MessageStream"),
        ("replyto", "ReplyTo"),
        ("strippedtextreply", "StrippedTextReply"),
    ):
        value = optional_str(fields, key)
        if value is not None:
            metadata[name] = value
    for key, name in (("ccfull", "Cc"), ("bccfull", "Bcc")):
        emails = [
            found
            for entry in _list(fields, key, name + "Full")
            if isinstance(entry, dict)
            and (found := mailbox(optional_str(entry, "Email"), field=f"{name}Full.Email"))
        ]
        if emails:
            metadata[name] = emails
    attachments = [
        entry["Name"]
        for entry in _list(fields, "attachments", "Attachments")
        if isinstance(entry, dict) and isinstance(entry.get("Name"), str)
    ]
    if attachments:
        metadata["Attachments"] = attachments
    return metadata


def _sample(description: str, record: dict[str, Any]) -> SamplePayload:
    return SamplePayload(description, json.dumps(record, indent=2).encode(), "application/json")


SAMPLES = (
    _sample(
        "Delivery",
        {
            "RecordType": "Delivery",
            "ServerID": 23,
            "MessageStream": "outbound",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Recipient": "john@example.com",
            "Tag": "welcome-email",
            "DeliveredAt": "2014-08-01T13:28:10.2735393-04:00",
            "Details": "Test delivery webhook details",
            "Metadata": {"a_key": "a_value", "b_key": "b_value"},
        },
    ),
    _sample(
        "Bounce: hard bounce (the address is deactivated)",
        {
            "RecordType": "Bounce",
            "MessageStream": "outbound",
            "ID": 4323372036854775807,
            "Type": "HardBounce",
            "TypeCode": 1,
            "Name": "Hard bounce",
            "Tag": "Test",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Metadata": {"a_key": "a_value", "b_key": "b_value"},
            "ServerID": 23,
            "Description": "The server was unable to deliver your message"
            " (ex: unknown user, mailbox not found).",
            "Details": "Test bounce details",
            "Email": "john@example.com",
            "From": "sender@example.com",
            "BouncedAt": "2019-11-05T16:33:54.9070259Z",
            "DumpAvailable": True,
            "Inactive": True,
            "CanActivate": True,
            "Subject": "Test subject",
            "Content": "Test content",
        },
    ),
    _sample(
        "Bounce: soft bounce (the message is not ended)",
        {
            "RecordType": "Bounce",
            "MessageStream": "outbound",
            "ID": 4323372036854775808,
            "Type": "SoftBounce",
            "TypeCode": 4096,
            "Name": "Soft bounce/Undeliverable",
            "MessageID": "9f3c1b2a-0d4e-4c8b-a5e6-7f8091a2b3c4",
            "ServerID": 23,
            "Description": "Unable to temporarily deliver this email message.",
            "Details": "smtp;452 4.2.2 The email account that you tried to reach is over quota.",
            "Email": "full@example.com",
            "From": "sender@example.com",
            "BouncedAt": "2019-11-05T16:40:01.1234567Z",
            "Inactive": False,
            "CanActivate": True,
            "Subject": "Test subject",
        },
    ),
    _sample(
        "Spam complaint: an opt-out",
        {
            "RecordType": "SpamComplaint",
            "MessageStream": "outbound",
            "ID": 42,
            "Type": "SpamComplaint",
            "TypeCode": 100001,
            "Name": "Spam complaint",
            "Tag": "Test",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ServerID": 1234,
            "Description": "The subscriber explicitly marked this message as spam.",
            "Details": "Test spam complaint details",
            "Email": "john@example.com",
            "From": "sender@example.com",
            "BouncedAt": "2019-11-05T16:33:54.9070259Z",
            "Inactive": True,
            "CanActivate": False,
            "Subject": "Test subject",
        },
    ),
    _sample(
        "Open",
        {
            "RecordType": "Open",
            "MessageStream": "outbound",
            "FirstOpen": True,
            "Client": {"Name": "Chrome 35.0.1916.153", "Company": "Google", "Family": "Chrome"},
            "OS": {
                "Name": "OS X 10.7 Lion",
                "Company": "Apple Computer, Inc.",
                "Family": "OS X 10",
            },
            "Platform": "WebMail",
            "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
            "ReadSeconds": 5,
            "Geo": {"CountryISOCode": "RS", "Country": "Serbia", "City": "Novi Sad"},
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Metadata": {"a_key": "a_value", "b_key": "b_value"},
            "ReceivedAt": "2019-11-05T16:33:54.9070259Z",
            "Tag": "welcome-email",
            "Recipient": "john@example.com",
        },
    ),
    _sample(
        "Click",
        {
            "RecordType": "Click",
            "MessageStream": "outbound",
            "ClickLocation": "HTML",
            "Platform": "Desktop",
            "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5)",
            "OriginalLink": "https://example.com",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ReceivedAt": "2019-11-05T16:35:12.1234567Z",
            "Tag": "welcome-email",
            "Recipient": "john@example.com",
        },
    ),
    _sample(
        "Subscription change: unsubscribed through the link (an opt-out)",
        {
            "RecordType": "SubscriptionChange",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "ServerID": 123456,
            "MessageStream": "outbound",
            "ChangedAt": "2020-02-01T10:53:34.416071Z",
            "Recipient": "bounced-address@wildbit.com",
            "Origin": "Recipient",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
            "Tag": "my-tag",
            "Metadata": {"example": "value", "example_2": "value"},
        },
    ),
    _sample(
        "Inbound e-mail",
        {
            "FromName": "Postmarkapp Support",
            "MessageStream": "inbound",
            "From": "support@postmarkapp.com",
            "FromFull": {
                "Email": "support@postmarkapp.com",
                "Name": "Postmarkapp Support",
                "MailboxHash": "",
            },
            "To": '"Firstname Lastname" <yourhash+SampleHash@inbound.postmarkapp.com>',
            "ToFull": [
                {
                    "Email": "yourhash+SampleHash@inbound.postmarkapp.com",
                    "Name": "Firstname Lastname",
                    "MailboxHash": "SampleHash",
                }
            ],
            "Cc": '"First Cc" <firstcc@postmarkapp.com>, secondCc@postmarkapp.com',
            "CcFull": [
                {"Email": "firstcc@postmarkapp.com", "Name": "First Cc", "MailboxHash": ""},
                {"Email": "secondCc@postmarkapp.com", "Name": "", "MailboxHash": ""},
            ],
            "OriginalRecipient": "yourhash+SampleHash@inbound.postmarkapp.com",
            "Subject": "Test subject",
            "MessageID": "73e6d360-66eb-11e1-8e72-a8904824019b",
            "ReplyTo": "replyto@example.com",
            "MailboxHash": "SampleHash",
            "Date": "Fri, 1 Aug 2014 16:45:32 -04:00",
            "TextBody": "This is a test text body.",
            "HtmlBody": "<html><body><p>This is a test html body.</p></body></html>",
            "StrippedTextReply": "This is the reply text",
            "Tag": "TestTag",
            "Headers": [{"Name": "X-Header-Test", "Value": ""}],
            "Attachments": [],
        },
    ),
)

PROVIDER = Provider(name="postmark", parse=parse, samples=SAMPLES)
