"""Mailgun webhooks (e-mail): delivery and engagement events, and inbound e-mail from routes.

Three formats reach one receiver, told apart by their content:

- **JSON webhooks** (since 2018): ``{"signature": {"timestamp", "token", "signature"},
  "event-data": {...}}``, one event per request; ``event-data.event`` is the event word.
- **Legacy webhooks**: form-encoded fields (multipart when the original message's
  attachments ride along), the signature's ``timestamp``, ``token`` and ``signature`` among
  them. Mailgun merges the message's user variables into the same form: when a variable has
  the name of one of Mailgun's fields, the form holds both values, Mailgun's own *first*,
  except for ``timestamp``, ``token`` and ``signature``, where Mailgun's value comes *last*
  (django-anymail's tests, ``test_metadata_key_conflicts``).
- **Inbound e-mail** (a route's ``forward()`` to the receiver's URL): form fields
  ``recipient``, ``sender``, ``from``, ``subject``, ``body-plain``, ``message-headers`` (a
  JSON list of ``[name, value]``), signed like the legacy webhooks; no ``event`` field.

**Signature**: hex HMAC-SHA256 of ``timestamp + token`` with the webhook signing key,
compared in constant time with every configured key; the timestamp must be within 300 s of
now. A replayed request inside the window applies nothing new (its events' dedupe keys are
already claimed).

**Identity**: an outbound message is its Message-ID without angle brackets
(``message.headers.message-id``, legacy ``Message-Id``), which is also what a reply's
``In-Reply-To`` names. Dedupe keys: ``status:{event-data.id}`` (Mailgun's event id) or, where
it is missing, ``status:{message id}:{event}:{recipient}:{event-data.timestamp}``; for legacy
events (which have no id) ``status:{message id}:{event}:{recipient}:{hash of the fields}``,
the signature's own fields left out so that a retry signed again is the same event;
``optout:`` the same; ``inbound:{message id}``.

**An event that names no message** (no Message-ID: django-anymail's trimmed test fragments,
an event whose message headers Mailgun left out) is authentic and well-formed, so it is
accepted: answered 200 (Mailgun retries any other answer but 406 for 8 hours, and a retry
would say the same) and kept whole in its raw request. What can be tied to something is
still applied: a complaint, an unsubscribe or a hard bounce puts its recipient in the opt-out
ledger. The rest is a :class:`NotApplied` note, stored as the notification's ``reason``
(``eventCount`` 0 when nothing applies).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from callbox.model.vocabulary import (
    BounceType,
    Channel,
    FailureReason,
    OptOutSource,
    ReportKind,
    Status,
)
from callbox.providers.base import (
    InboundRequest,
    JSONValue,
    MessageReceived,
    NotApplied,
    OptOutReported,
    Parsed,
    PayloadRejected,
    Provider,
    ReceiverContext,
    SamplePayload,
    SignatureKey,
    SignatureRejected,
    SignatureScheme,
    SignedRequest,
    StatusReported,
)
from callbox.providers.email_headers import bare_message_id, header_date, mailbox
from callbox.providers.payloads import (
    decode_json,
    decode_json_object,
    form_pairs,
    json_kind,
    multipart_form_pairs,
    optional_str,
    parse_epoch,
    required_str,
    text_value,
)
from callbox.providers.signatures import require_match, require_within_window, unix_time

MAILGUN_EVENTS: dict[str, tuple[Status, FailureReason | None, ReportKind]] = {
    # Mailgun took the message and queued it.
    "accepted": (Status.PENDING, None, ReportKind.STATUS),
    # Mailgun would not send it (a sandbox domain's limits, a message it refuses).
    "rejected": (Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS),
    "delivered": (Status.DELIVERED, None, ReportKind.STATUS),
    # Permanent unless severity is "temporary" (a deferral: MAILGUN_TEMPORARY_FAILURE); the
    # cause is `reason` (MAILGUN_FAILURE_REASONS).
    "failed": (Status.FAILED, FailureReason.UNKNOWN, ReportKind.STATUS),
    # Reactions of the recipient: each implies delivery, and none changes the status.
    "opened": (Status.DELIVERED, None, ReportKind.OPENED),
    "clicked": (Status.DELIVERED, None, ReportKind.CLICKED),
    "unsubscribed": (Status.DELIVERED, None, ReportKind.UNSUBSCRIBED),
    "complained": (Status.DELIVERED, None, ReportKind.COMPLAINED),
    # Legacy webhooks: a hard bounce, and a message Mailgun dropped (cause in `reason`).
    "bounced": (Status.FAILED, FailureReason.PERMANENT, ReportKind.STATUS),
    "dropped": (Status.FAILED, FailureReason.UNKNOWN, ReportKind.STATUS),
}

MAILGUN_FAILURE_REASONS: dict[str, tuple[Status, FailureReason, BounceType | None]] = {
    # The recipient's server refused it for good; Mailgun puts the address on its bounce list.
    "bounce": (Status.FAILED, FailureReason.PERMANENT, BounceType.HARD),
    # Not attempted: the address is on a suppression list.
    "suppress-bounce": (Status.FAILED, FailureReason.BLOCKED, BounceType.SUPPRESSED),
    "suppress-unsubscribe": (Status.FAILED, FailureReason.BLOCKED, BounceType.SUPPRESSED),
    "suppress-complaint": (Status.FAILED, FailureReason.BLOCKED, BounceType.SUPPRESSED),
    # Legacy `dropped`: "Not delivering to previously bounced address" (codes 605-607).
    "hardfail": (Status.FAILED, FailureReason.BLOCKED, BounceType.SUPPRESSED),
    # Tried for too long (after temporary failures) and given up.
    "old": (Status.FAILED, FailureReason.EXPIRED, None),
    "espblock": (Status.FAILED, FailureReason.BLOCKED, BounceType.BLOCKED),
    "generic": (Status.FAILED, FailureReason.UNKNOWN, None),
}

MAILGUN_TEMPORARY_FAILURE = (Status.SENT, ReportKind.DEFERRED, BounceType.SOFT)
"""``failed`` with ``severity`` ``temporary``: Mailgun retries, the message is not ended."""

MAILGUN_OPT_OUTS: dict[str, OptOutSource] = {
    "unsubscribed": OptOutSource.UNSUBSCRIBE,
    "complained": OptOutSource.COMPLAINT,
}
"""Events that opt the recipient out; a hard bounce also does (source ``suppression``):
Mailgun suppresses the address from then on."""

SIGNATURE_FIELDS = ("timestamp", "token", "signature")

# Legacy fields that are Mailgun's own (any other field is a user variable).
_LEGACY_FIELDS = frozenset(
    {
        *SIGNATURE_FIELDS,
        "event", "recipient", "domain", "ip", "country", "region", "city", "user-agent",
        "device-type", "client-type", "client-name", "client-os", "campaign-id",
        "campaign-name", "tag", "mailing-list", "body-plain", "h", "message-id",
        "Message-Id", "url", "message-headers", "code", "error", "description", "reason",
        "notification", "X-Mailgun-Sid", "X-Mailgun-Tag", "attachment-count",
    }
)  # fmt: skip
# Inbound (route) fields kept as metadata beside the normalised ones.
_INBOUND_METADATA = ("stripped-text", "stripped-signature", "attachment-count")


@dataclass(frozen=True, slots=True)
class MailgunEvent:
    """One tracking event, from either webhook format."""

    event: str
    identity: str
    """Mailgun's event id, or what stands for it (see the module docstring)."""
    message_id: str | None
    recipient: str | None
    occurred_at: datetime | None
    severity: str | None = None
    reason: str | None = None
    detail: str | None = None
    subject: str | None = None
    sender: str | None = None
    metadata: dict[str, JSONValue] = field(default_factory=dict)


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Parsed]:
    if _is_json(request.content_type, request.body):
        return _events(_json_event(decode_json_object(request.body)))
    pairs = _form(request.body, request.content_type, request.headers.get("content-type", ""))
    fields = _LegacyForm(pairs)
    if fields.first("event") is None and _looks_inbound(fields):
        return [_inbound(fields)]
    return _events(_legacy_event(fields))


def _is_json(media_type: str, body: bytes) -> bool:
    if media_type.endswith("json"):
        return True
    return not media_type.startswith(("multipart/", "application/x-www-form-urlencoded")) and (
        body.lstrip()[:1] == b"{"
    )


def _form(body: bytes, media_type: str, content_type_header: str) -> list[tuple[str, str]]:
    if media_type == "multipart/form-data":
        return multipart_form_pairs(body, content_type_header)
    pairs = form_pairs(body)
    if not pairs:
        raise PayloadRejected(
            "expected a Mailgun webhook: JSON with event-data, or form fields (event, ...)"
        )
    return pairs


# --- Events to Callbox's ----------------------------------------------------------------------


NO_MESSAGE_ID = "without a Message-ID (message.headers.message-id, or Message-Id in a legacy form)"


def _events(report: MailgunEvent) -> list[Parsed]:
    status, reason, kind = MAILGUN_EVENTS.get(
        report.event, (Status.UNKNOWN, None, ReportKind.STATUS)
    )
    bounce: BounceType | None = BounceType.HARD if report.event == "bounced" else None
    if report.event in ("failed", "dropped"):
        if report.severity == "temporary":
            status, kind, bounce = MAILGUN_TEMPORARY_FAILURE
            reason = None
        elif report.reason in MAILGUN_FAILURE_REASONS:
            status, reason, bounce = MAILGUN_FAILURE_REASONS[report.reason]
    source = MAILGUN_OPT_OUTS.get(report.event)
    if source is None and bounce is BounceType.HARD:
        source = OptOutSource.SUPPRESSION
    events: list[Parsed] = []
    if report.message_id is not None:
        events.append(
            StatusReported(
                dedupe_key=f"status:{report.identity}",
                provider_message_id=report.message_id,
                channel=Channel.EMAIL,
                status=status,
                provider_status=report.event,
                failure_reason=reason,
                occurred_at=report.occurred_at,
                recipient=report.recipient,
                sender=report.sender,
                metadata=report.metadata,
                kind=kind,
                bounce_type=bounce,
                detail=report.detail,
                subject=report.subject,
            )
        )
    opts_out = source is not None and (report.recipient or report.message_id) is not None
    if source is not None and opts_out:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{report.identity}",
                address=report.recipient,
                channel=Channel.EMAIL,
                occurred_at=report.occurred_at,
                source=source,
                provider_message_id=report.message_id,
                text=_opt_out_text(report),
            )
        )
    if report.message_id is None:
        applied = "its recipient's opt-out is recorded" if opts_out else "nothing applied"
        events.append(NotApplied(f"{report.event!r} event {NO_MESSAGE_ID}: {applied}"))
    return events


def _opt_out_text(report: MailgunEvent) -> str:
    return f"{report.event}: {report.detail}" if report.detail else report.event


# --- JSON webhooks ----------------------------------------------------------------------------


def _json_event(document: Mapping[str, Any]) -> MailgunEvent:
    data = document.get("event-data")
    if not isinstance(data, dict):
        keys = ", ".join(sorted(document)) or "none"
        raise PayloadRejected(
            f"expected a Mailgun webhook: a JSON object with an event-data object (fields: {keys})"
        )
    event = required_str(data, "event", what="event-data field").lower()
    message = _object(data, "message", "event-data.message")
    headers = _object(message, "headers", "event-data.message.headers")
    envelope = _object(data, "envelope", "event-data.envelope")
    status = _object(data, "delivery-status", "event-data.delivery-status")
    rejection = _object(data, "reject", "event-data.reject")
    message_id = bare_message_id(optional_str(headers, "message-id"))
    recipient = mailbox(optional_str(data, "recipient"), field="event-data.recipient")
    if recipient is None:  # `rejected` names its recipient only in the message's To
        recipient = mailbox(optional_str(headers, "to"), field="message.headers.to")
    timestamp = _epoch_text(data.get("timestamp"), "event-data.timestamp")
    event_id = optional_str(data, "id")
    return MailgunEvent(
        event=event,
        identity=event_id or _identity(message_id, event, recipient, timestamp),
        message_id=message_id,
        recipient=recipient,
        occurred_at=parse_epoch(timestamp, field="event-data.timestamp") if timestamp else None,
        severity=_lower(optional_str(data, "severity")),
        reason=_lower(optional_str(data, "reason")),
        detail=_first_text(
            (status, "message"),
            (status, "description"),
            (rejection, "reason"),
            (rejection, "description"),
            (data, "url"),
        ),
        subject=text_value(headers, "subject"),
        sender=mailbox(optional_str(envelope, "sender"), field="envelope.sender")
        or mailbox(optional_str(headers, "from"), field="message.headers.from"),
        metadata=_json_metadata(data),
    )


def _identity(*parts: str | None) -> str:
    """What stands for an event id Mailgun did not give: the same on every retry."""
    return ":".join(part or "" for part in parts)


def _object(fields: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = fields.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadRejected(f"{where}: expected an object, got a JSON {json_kind(value)}")
    return value


def _epoch_text(value: Any, where: str) -> str | None:
    """A JSON timestamp as text (stable across retries, for dedupe keys)."""
    match value:
        case None:
            return None
        case bool():
            pass
        case int() | float() | str():
            return str(value).strip() or None
    raise PayloadRejected(f"{where}: expected a Unix timestamp, got a JSON {json_kind(value)}")


def _first_text(*places: tuple[Mapping[str, Any], str]) -> str | None:
    for fields, key in places:
        value = optional_str(fields, key)
        if value is not None:
            return value
    return None


def _lower(value: str | None) -> str | None:
    return value.lower() if value is not None else None


def _json_metadata(data: Mapping[str, Any]) -> dict[str, JSONValue]:
    metadata: dict[str, JSONValue] = {}
    for key in ("tags", "user-variables", "campaigns"):
        if data.get(key):
            metadata[key] = data[key]
    return metadata


# --- Legacy webhooks and inbound routes (form fields) -----------------------------------------


class _LegacyForm:
    """A form's fields with Mailgun's rule for names that a user variable repeats: the
    first value is Mailgun's, except for the signature's fields, where it is the last."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.values: dict[str, list[str]] = {}
        for name, value in pairs:
            self.values.setdefault(name, []).append(value)

    def first(self, name: str) -> str | None:
        values = self.values.get(name)
        return (values[0].strip() or None) if values else None

    def last(self, name: str) -> str | None:
        values = self.values.get(name)
        return (values[-1].strip() or None) if values else None

    def all(self, name: str) -> list[str]:
        return self.values.get(name, [])

    def content_digest(self) -> str:
        """What stands for the event's id: a hash of its fields but the signature's own
        values (Mailgun's last ``timestamp``, ``token`` and ``signature``), so a retry that
        Mailgun signs again is still the same event."""
        content = [
            (name, values[:-1] if name in SIGNATURE_FIELDS else values)
            for name, values in sorted(self.values.items())
        ]
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()[:24]

    def user_variables(self, headers: Sequence[tuple[str, str]]) -> dict[str, JSONValue]:
        """The message's user variables: from its ``X-Mailgun-Variables`` headers when the
        form carries them, else the fields Mailgun does not own and the extra value of a
        field it does."""
        variables: dict[str, JSONValue] = {}
        declared = [value for name, value in headers if name.lower() == "x-mailgun-variables"]
        if declared:
            for text in declared:
                try:
                    found = json.loads(text)
                except (ValueError, RecursionError):
                    continue
                if isinstance(found, dict):
                    variables.update(found)
            return variables
        for name, values in self.values.items():
            if name not in _LEGACY_FIELDS:
                variables[name] = values[-1]
            elif len(values) > 1 and name != "tag":
                variables[name] = values[0] if name in SIGNATURE_FIELDS else values[-1]
        return variables


def _message_headers(fields: _LegacyForm) -> list[tuple[str, str]]:
    """``message-headers``: a JSON list of ``[name, value]`` (values may be lists, such as
    a Content-Type with its parameters: those are not kept)."""
    text = fields.first("message-headers")
    if text is None:
        return []
    document = decode_json(text.encode())
    if not isinstance(document, list):
        raise PayloadRejected(
            "message-headers: expected a JSON list of [name, value], got a JSON"
            f" {json_kind(document)}"
        )
    headers = []
    for item in document:
        if (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], str)
        ):
            headers.append((item[0], item[1]))
    return headers


def _header(headers: Sequence[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name.lower():
            return value
    return None


def _legacy_event(fields: _LegacyForm) -> MailgunEvent:
    event = fields.first("event")
    if event is None:
        names = ", ".join(sorted(fields.values)[:20]) or "none"
        raise PayloadRejected(
            "expected a Mailgun webhook: JSON with event-data, form fields with an event, or"
            f" an inbound message (sender, recipient, body-plain); got fields: {names}"
        )
    event = event.lower()
    headers = _message_headers(fields)
    message_id = bare_message_id(
        fields.first("Message-Id") or fields.first("message-id") or _header(headers, "Message-Id")
    )
    recipient = mailbox(fields.first("recipient"), field="recipient")
    timestamp = fields.last("timestamp")
    occurred_at = parse_epoch(timestamp, field="timestamp") if timestamp else None
    url = fields.first("url")
    identity = _identity(message_id, event, recipient, fields.content_digest())
    tags = fields.all("tag") or fields.all("X-Mailgun-Tag")
    metadata: dict[str, JSONValue] = {}
    if tags:
        metadata["tags"] = tags
    variables = fields.user_variables(headers)
    if variables:
        metadata["user-variables"] = variables
    return MailgunEvent(
        event=event,
        identity=identity,
        message_id=message_id,
        recipient=recipient,
        occurred_at=occurred_at,
        reason=_lower(fields.first("reason")),
        detail=fields.first("error") or fields.first("description") or url,
        subject=_header(headers, "Subject"),
        sender=mailbox(_header(headers, "From"), field="message-headers From"),
        metadata=metadata,
    )


def _looks_inbound(fields: _LegacyForm) -> bool:
    return any(fields.first(name) is not None for name in ("sender", "body-plain", "from"))


def _inbound(fields: _LegacyForm) -> MessageReceived:
    headers = _message_headers(fields)
    sender = mailbox(fields.first("from"), field="from") or mailbox(
        fields.first("sender"), field="sender"
    )
    if sender is None:
        raise PayloadRejected("inbound e-mail without a sender (from, sender)")
    recipient = mailbox(fields.first("recipient"), field="recipient")
    subject = fields.first("subject") or _header(headers, "Subject")
    body = fields.all("body-plain")[0] if fields.all("body-plain") else None
    message_id = bare_message_id(_header(headers, "Message-Id"))
    if message_id is None:
        # No Message-ID (rare): one stands for it, the same whenever Mailgun retries.
        digest = hashlib.sha256(
            json.dumps([sender, recipient, subject, body, fields.first("message-headers")]).encode()
        ).hexdigest()
        message_id = f"sha256:{digest[:32]}"
    timestamp = fields.last("timestamp")
    occurred_at = header_date(_header(headers, "Date"), field="message-headers Date")
    if occurred_at is None and timestamp is not None:
        occurred_at = parse_epoch(timestamp, field="timestamp")
    metadata: dict[str, JSONValue] = {
        name: value for name in _INBOUND_METADATA if (value := fields.first(name)) is not None
    }
    envelope_sender = mailbox(fields.first("sender"), field="sender")
    if envelope_sender is not None and envelope_sender != sender:
        metadata["envelope-sender"] = envelope_sender
    return MessageReceived(
        dedupe_key=f"inbound:{message_id}",
        provider_message_id=message_id,
        channel=Channel.EMAIL,
        sender=sender,
        recipient=recipient,
        body=body,
        occurred_at=occurred_at,
        in_reply_to=bare_message_id(_header(headers, "In-Reply-To")),
        metadata=metadata,
        subject=subject,
    )


# --- Signature --------------------------------------------------------------------------------


def signature_fields(request: SignedRequest) -> tuple[str, str, str]:
    """``(timestamp, token, signature)`` as Mailgun sent them: the JSON body's
    ``signature`` object, or the form's fields (their last values: a user variable of the
    same name comes first).

    Raises:
        SignatureRejected: one of them is missing.
    """
    if _is_json(request.content_type, request.body):
        try:
            document = json.loads(request.body)
        except (ValueError, RecursionError):
            raise SignatureRejected("body is not JSON: no signature object to check") from None
        block = document.get("signature") if isinstance(document, dict) else None
        if not isinstance(block, dict):
            raise SignatureRejected("missing signature object in the JSON body")
        found = {name: block.get(name) for name in SIGNATURE_FIELDS}
        where = "signature.{}"
    else:
        try:
            header = request.headers.get("content-type", "")
            pairs = _form(request.body, request.content_type, header)
        except PayloadRejected:
            pairs = []
        found = {name: value for name, value in pairs if name in SIGNATURE_FIELDS}
        where = "{} field"
    values = []
    for name in SIGNATURE_FIELDS:
        value = found.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            raise SignatureRejected(f"missing {where.format(name)}")
        values.append(value.strip())
    return values[0], values[1], values[2]


def _mac(key: bytes, timestamp: str, token: str) -> str:
    return hmac.new(key, (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify(
    request: SignedRequest, keys: Sequence[SignatureKey], _: ReceiverContext, now: datetime
) -> None:
    timestamp, token, signature = signature_fields(request)
    require_match(keys, lambda key: _mac(key, timestamp, token), signature.lower())
    require_within_window(unix_time(timestamp, "timestamp"), now)


def sign(
    request: SignedRequest, key: str, context: ReceiverContext, now: datetime
) -> SignedRequest:
    """The request as Mailgun sends it, signed now with ``key``: a JSON body's signature
    object, or a form's last ``timestamp``, ``token`` and ``signature`` (replaced, or
    added at the end). The token is derived from the body and time, so signing is
    repeatable."""
    timestamp = str(int(now.timestamp()))
    token = hashlib.sha256(request.body + timestamp.encode()).hexdigest()[:50]
    signed = {
        "timestamp": timestamp,
        "token": token,
        "signature": _mac(key.encode(), timestamp, token),
    }
    if _is_json(request.content_type, request.body):
        document = json.loads(request.body)
        document["signature"] = signed
        return replace(request, body=json.dumps(document, indent=2).encode())
    if request.content_type not in ("", "application/x-www-form-urlencoded"):
        raise ValueError("Callbox signs Mailgun's JSON and form-encoded requests only")
    pairs = form_pairs(request.body)
    for name, value in signed.items():
        places = [index for index, (field_name, _) in enumerate(pairs) if field_name == name]
        if places:
            pairs[places[-1]] = (name, value)
        else:
            pairs.append((name, value))
    return replace(request, body=urlencode(pairs).encode())


SCHEME = SignatureScheme(verify=verify, sign=sign, key_kind="HTTP webhook signing key")


# --- Samples ----------------------------------------------------------------------------------

_LEGACY_DELIVERED = urlencode(
    [
        ("domain", "example.com"),
        (
            "message-headers",
            json.dumps(
                [
                    ["Sender", "from=example.com"],
                    ["Date", "Thu, 21 Apr 2016 17:55:29 +0000"],
                    ["Message-Id", "<20160421175529.19495.89030.B3AE3728@example.com>"],
                    ["To", "recipient@example.com"],
                    ["From", "from@example.com"],
                    ["Subject", "Webhook testing"],
                    ["Mime-Version", "1.0"],
                ]
            ),
        ),
        ("X-Mailgun-Sid", "WyIxZmY4ZSIsICJtZWRtdW5kc0BnbWFpbC5jb20iLCAiZjFjNzgyIl0="),
        ("token", "06c96bafc3f42a66b9edd546347a2fe18dc23461fe80dc52f0"),
        ("timestamp", "1461261330"),
        ("Message-Id", "<20160421175529.19495.89030.B3AE3728@example.com>"),
        ("recipient", "recipient@example.com"),
        ("event", "delivered"),
        ("signature", "0000000000000000000000000000000000000000000000000000000000000000"),
    ]
).encode()

_LEGACY_DROPPED = urlencode(
    [
        ("code", "605"),
        ("domain", "example.com"),
        ("description", "Not delivering to previously bounced address"),
        ("Message-Id", "<20160421180324.70521.79375.96884DDB@example.com>"),
        ("reason", "hardfail"),
        ("event", "dropped"),
        ("recipient", "bounce@example.com"),
        ("timestamp", "1461261330"),
        ("token", "a3fe1fa1640349ac552b84ddde373014b4c41645830c8dd3fc"),
        ("signature", "0000000000000000000000000000000000000000000000000000000000000000"),
    ]
).encode()

_INBOUND = urlencode(
    [
        ("recipient", "support@inbound.example.com"),
        ("sender", "bounces+jane=example.net@mail.example.net"),
        ("from", "Jane Doe <Jane.Doe@Example.NET>"),
        ("subject", "Re: Your order"),
        ("body-plain", "Thanks, that works for me.\n\n> Your order has shipped.\n"),
        ("stripped-text", "Thanks, that works for me."),
        (
            "message-headers",
            json.dumps(
                [
                    ["Date", "Fri, 5 May 2023 17:44:33 -0400"],
                    ["Message-Id", "<CAF=reply-1@mail.example.net>"],
                    ["In-Reply-To", "<20180812211713.1.DF5966851B4BAA99@example.org>"],
                    ["From", "Jane Doe <Jane.Doe@Example.NET>"],
                    ["To", "support@inbound.example.com"],
                    ["Subject", "Re: Your order"],
                ]
            ),
        ),
        ("timestamp", "1683323073"),
        ("token", "5a1c3b0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a"),
        ("signature", "0000000000000000000000000000000000000000000000000000000000000000"),
    ]
).encode()


def _json_sample(description: str, event_data: dict[str, Any]) -> SamplePayload:
    body = {
        "signature": {
            "timestamp": str(int(event_data.get("timestamp", 0))),
            "token": "651869375b9df3c98fc15c4889b102119add1235c38fc92824",
            "signature": "0" * 64,
        },
        "event-data": event_data,
    }
    return SamplePayload(description, json.dumps(body, indent=2).encode(), "application/json")


SAMPLES = (
    _json_sample(
        "Delivered (JSON webhook)",
        {
            "id": "hTWCTD81RtiDN-fZuNV2fw",
            "event": "delivered",
            "timestamp": 1534108637.153125,
            "log-level": "info",
            "recipient": "recipient@example.com",
            "recipient-domain": "example.com",
            "tags": [],
            "user-variables": {},
            "envelope": {"sender": "test@example.org", "transport": "smtp"},
            "message": {
                "headers": {
                    "to": "recipient@example.com",
                    "message-id": "20180812211713.1.DF5966851B4BAA99@example.org",
                    "from": "test@example.org",
                    "subject": "Testing",
                },
                "size": 809,
            },
            "delivery-status": {"attempt-no": 1, "code": 250, "message": "OK"},
        },
    ),
    _json_sample(
        "Permanent failure: hard bounce (the address goes on the bounce list)",
        {
            "event": "failed",
            "severity": "permanent",
            "reason": "bounce",
            "recipient": "invalid@example.com",
            "timestamp": 1534110422.389832,
            "log-level": "error",
            "message": {
                "headers": {
                    "to": "invalid@example.com",
                    "message-id": "20180812214658.1.0DF563D0B3597700@example.org",
                    "from": "Test Sender <test@example.org>",
                }
            },
            "delivery-status": {
                "attempt-no": 1,
                "code": 550,
                "message": "5.1.1 The email account that you tried to reach does not exist.",
            },
        },
    ),
    _json_sample(
        "Temporary failure: greylisted (Mailgun retries)",
        {
            "event": "failed",
            "severity": "temporary",
            "reason": "greylisted",
            "timestamp": 1534111899.659519,
            "log-level": "warn",
            "recipient": "undeliverable@mx.example.com",
            "message": {
                "headers": {
                    "to": "undeliverable@mx.example.com",
                    "message-id": "20180812214638.1.4A7D468E9BC18C5D@example.org",
                    "subject": "Testing",
                }
            },
            "delivery-status": {
                "attempt-no": 1,
                "retry-seconds": 300,
                "code": 450,
                "message": "Recipient address rejected: Greylisted",
            },
        },
    ),
    _json_sample(
        "Rejected by Mailgun (sandbox domain)",
        {
            "event": "rejected",
            "timestamp": 1529704976.104692,
            "log-level": "warn",
            "reject": {"reason": "Sandbox subdomains are for test purposes only."},
            "message": {
                "headers": {
                    "to": "Recipient Name <recipient@example.org>",
                    "message-id": "20180622220256.1.B31A451A2E5422BB@sandbox55887.mailgun.org",
                    "from": "test@sandbox55887.mailgun.org",
                    "subject": "Test Subject",
                }
            },
        },
    ),
    _json_sample(
        "Opened",
        {
            "event": "opened",
            "timestamp": 1534109600.089676,
            "recipient": "recipient@example.com",
            "tags": ["welcome", "variation-A"],
            "user-variables": {"cohort": "2018-08-B", "user_id": "123456"},
            "message": {"headers": {"message-id": "20180812213139.1.BC6694A917BB7E6A@example.org"}},
        },
    ),
    _json_sample(
        "Clicked",
        {
            "event": "clicked",
            "timestamp": 1534109632.210211,
            "recipient": "recipient@example.com",
            "url": "https://example.com/test",
            "message": {"headers": {"message-id": "20180812213139.1.BC6694A917BB7E6A@example.org"}},
        },
    ),
    _json_sample(
        "Complained (marked as spam): an opt-out",
        {
            "event": "complained",
            "id": "ncV2XwymRUKbPek_MIM-Gw",
            "timestamp": 1377214260.049634,
            "log-level": "warn",
            "recipient": "recipient@example.com",
            "message": {
                "headers": {
                    "to": "foo@recipient.com",
                    "message-id": "20130718032413.263EE2E0926@example.org",
                    "from": "Sender Name <sender@example.org>",
                    "subject": "We are not spammer",
                }
            },
        },
    ),
    _json_sample(
        "Unsubscribed: an opt-out",
        {
            "event": "unsubscribed",
            "id": "W3X4JOhFT-OZidZGKKr9iA",
            "timestamp": 1377213791.421473,
            "log-level": "info",
            "recipient": "recipient@example.com",
            "message": {
                "headers": {"message-id": "20130822232216.13966.79700@samples.mailgun.org"}
            },
        },
    ),
    SamplePayload(
        "Delivered (legacy form webhook)", _LEGACY_DELIVERED, "application/x-www-form-urlencoded"
    ),
    SamplePayload(
        "Dropped: previously bounced address (legacy form webhook)",
        _LEGACY_DROPPED,
        "application/x-www-form-urlencoded",
    ),
    SamplePayload(
        "Inbound e-mail (a route forwarding to this receiver)",
        _INBOUND,
        "application/x-www-form-urlencoded",
    ),
)

PROVIDER = Provider(name="mailgun", parse=parse, samples=SAMPLES, signature=SCHEME)
