"""Amazon SES events through Amazon SNS: sends, deliveries, bounces, delays, opens, clicks,
complaints, rejections, subscriptions, inbound e-mail; SNS's own subscription messages; SNS's
signature.

**What SNS sends.** One POST per message, ``Content-Type: text/plain; charset=UTF-8`` whatever
the body (it is JSON, and read as JSON whatever the label): an envelope whose ``Type`` is
``Notification``, ``SubscriptionConfirmation`` or ``UnsubscribeConfirmation``. A Notification's
``Message`` is the SES event as a JSON *string*: ``eventType`` for configuration-set event
publishing (Send, Delivery, Bounce, Complaint, Reject, Open, Click, Rendering Failure,
DeliveryDelay, Subscription), ``notificationType`` for the older identity notifications
(Delivery, Bounce, Complaint) and for e-mail receiving (Received). The first Notification after
subscribing may be the plain string "Successfully validated SNS topic for Amazon SES event
publishing.". A subscription with raw message delivery posts the SES event without envelope
(and unsigned); it is read too. SNS retries a request not answered 2xx for up to an hour.

**Signature** (receivers with ``auth.signature``, which lists the *topic ARNs* the receiver
trusts: SNS signs with AWS's certificate, not with a key of yours). Before anything is stored:
the topic must be one of those (anyone can point their own topic at the URL, and SNS signs that
too); ``SigningCertURL`` must be ``https://sns.<region>.amazonaws.com/….pem`` (any other host,
amazonaws or not, is refused: accepting any amazonaws host was a CVE elsewhere); the
certificate is fetched over HTTPS by the app (``[outbound]`` settings: a short time limit, the
public CAs, cached per URL); the string to sign (``key\\nvalue\\n`` for Message, MessageId,
Subject when present, Timestamp, TopicArn, Type; for the two confirmation types Message,
MessageId, SubscribeURL, Timestamp, Token, TopicArn, Type) must verify with its RSA key
(SignatureVersion 1: SHA-1, 2: SHA-256); ``Timestamp`` must be within the hour SNS may retry
for (plus 5 minutes of clock skew). A certificate that cannot be fetched now is a 503 with
``Retry-After`` (SNS retries), anything else that fails a 401. Once a verified
SubscriptionConfirmation for a trusted topic is stored, its ``SubscribeURL`` (an SNS host,
``Action=ConfirmSubscription``, the same topic) is visited to confirm the subscription, unless
the receiver sets ``auto_confirm = false``.

**Events.** Recorded with no event (the request is stored, ``event_count`` 0):
SubscriptionConfirmation, UnsubscribeConfirmation, the validation string, complaints of type
``not-spam`` and any eventType it does not know (kept raw). The others, onto the e-mail model
(only kind STATUS changes a message's status; :data:`SES_STATUSES`), one event per recipient:

- Send -> SENT, Delivery -> DELIVERED, for each of ``mail.destination`` /
  ``delivery.recipients``;
- Permanent bounce -> FAILED (reason and bounce type by ``bounceSubType``), for each of
  ``bounce.bouncedRecipients``; a hard one (General, NoEmail, a subtype AWS adds) also an
  opt-out, source ``suppression``;
- Transient bounce -> DEFERRED, bounce type SOFT; Undetermined -> DEFERRED, UNDETERMINED (a
  Transient bounce can follow a delivery, e.g. an auto-reply: it does not end the message);
- DeliveryDelay -> DEFERRED (SOFT), for each of ``deliveryDelay.delayedRecipients``;
- Open -> OPENED, Click -> CLICKED (``detail`` the link), for the only ``mail.destination``;
- Reject, Rendering Failure -> FAILED (BLOCKED, TECHNICAL), for each of ``mail.destination``;
- Complaint -> COMPLAINED and an opt-out (source ``complaint``) of each of
  ``complaint.complainedRecipients``;
- Subscription -> UNSUBSCRIBED when the recipient left all of a contact list's topics (also an
  opt-out, source ``unsubscribe``) or some (history only); subscribing again to all is an opt-in;
- Received -> an inbound e-mail from the ``From`` header's address to the first of
  ``receipt.recipients``, its text part as the body (when the SNS action carries the content;
  an S3 action's message is not fetched), with its subject.

**Identity.** ``provider_message_id`` is ``mail.messageId``, the id SES's SendEmail returned, so
one e-mail to several recipients is one message with a status event per recipient. Dedupe keys
are built from the SES event, not from the SNS message, so the same event published both ways
(configuration set and identity notification) is applied once: ``status:{messageId}:{recipient}
:{provider status}``, ``status:{feedbackId}:{recipient}`` (transient bounces, complaints), with
the event's timestamp for delays, opens, clicks and subscriptions,
``optout:{feedbackId}:{recipient}``, ``inbound:{messageId}`` (docs/statuses.md).
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

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
    Fetcher,
    InboundRequest,
    JSONValue,
    MessageReceived,
    OptOutReported,
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
from callbox.providers.payloads import (
    address,
    decode_json,
    decode_json_object,
    json_kind,
    optional_str,
    parse_timestamp,
)
from callbox.providers.signatures import MISMATCH, REPLAY_WINDOW_SECONDS, require_ok

SES_STATUSES: dict[
    str, tuple[Status, FailureReason | None, ReportKind, BounceType | None]
] = {
    # Accepted by SES, to be sent.
    "Send": (Status.SENT, None, ReportKind.STATUS, None),
    "Delivery": (Status.DELIVERED, None, ReportKind.STATUS, None),
    # AWS: "a general hard bounce": remove the address from your list.
    "Bounce/Permanent/General": (
        Status.FAILED, FailureReason.PERMANENT, ReportKind.STATUS, BounceType.HARD,
    ),
    # The receiving domain says the address does not exist.
    "Bounce/Permanent/NoEmail": (
        Status.FAILED, FailureReason.INVALID_RECIPIENT, ReportKind.STATUS, BounceType.HARD,
    ),
    # Not sent: the address is on SES's (or the account's) suppression list.
    "Bounce/Permanent/Suppressed": (
        Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.SUPPRESSED,
    ),
    "Bounce/Permanent/OnAccountSuppressionList": (
        Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.SUPPRESSED,
    ),
    # Not sent: the recipient unsubscribed through SES's list management.
    "Bounce/Permanent/UnsubscribedRecipient": (
        Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.SUPPRESSED,
    ),
    # Transient bounces (any subtype: General, MailboxFull, MessageTooLarge,
    # ContentRejected, AttachmentRejected) do not end the message: SES or the sender may try
    # again, and one can follow a delivery (an auto-reply).
    "Bounce/Transient": (Status.SENT, None, ReportKind.DEFERRED, BounceType.SOFT),
    # SES could not tell what the bounce was: kept, the message not ended.
    "Bounce/Undetermined": (Status.SENT, None, ReportKind.DEFERRED, BounceType.UNDETERMINED),
    # SES found a virus and did not try to deliver.
    "Reject": (Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.BLOCKED),
    # The template could not be rendered: nothing was sent.
    "Rendering Failure": (Status.FAILED, FailureReason.TECHNICAL, ReportKind.STATUS, None),
    # The receiving server delays it; SES keeps trying.
    "DeliveryDelay": (Status.SENT, None, ReportKind.DEFERRED, BounceType.SOFT),
    "Open": (Status.DELIVERED, None, ReportKind.OPENED, None),
    "Click": (Status.DELIVERED, None, ReportKind.CLICKED, None),
    "Complaint": (Status.DELIVERED, None, ReportKind.COMPLAINED, None),
    "Subscription": (Status.DELIVERED, None, ReportKind.UNSUBSCRIBED, None),
}  # fmt: skip
PERMANENT_BOUNCE = (Status.FAILED, FailureReason.PERMANENT, ReportKind.STATUS, BounceType.HARD)
"""A Permanent bounce of a subtype not in :data:`SES_STATUSES` (a new one AWS adds)."""

VALIDATION_MESSAGE = "Successfully validated SNS topic for Amazon SES event publishing."
NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"
SNS_TYPES = (NOTIFICATION, SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION)

# The signed fields, in the order SNS signs them (Subject only when the message has one).
SIGNED_FIELDS = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_FIELDS[UNSUBSCRIBE_CONFIRMATION] = SIGNED_FIELDS[SUBSCRIPTION_CONFIRMATION]
SIGNATURE_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}

# sns.<region>.amazonaws.com only: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5...
SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com")
URL_TEXT = re.compile(r"https://[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=%-]{1,2000}")
"""Printable ASCII only: no spaces, backslashes or controls for two URL parsers to disagree on."""
TOPIC_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]+:[A-Za-z0-9_.-]{1,256}")
MAX_AGE = timedelta(seconds=3600 + REPLAY_WINDOW_SECONDS)
"""AWS: an HTTP/S delivery policy retries for at most 3,600 s (a hard limit); plus skew."""
MAX_SKEW = timedelta(seconds=REPLAY_WINDOW_SECONDS)


class SesOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """Amazon SES receiver options.

    Example::

        SesOptions(auto_confirm=False)
    """

    auto_confirm: bool = True
    """Confirm a verified SubscriptionConfirmation of a trusted topic by visiting its
    ``SubscribeURL`` (only receivers with ``auth.signature`` ever do)."""


# --- Parsing -----------------------------------------------------------------------------------


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    fields = decode_json_object(request.body)
    if "Type" not in fields and ("eventType" in fields or "notificationType" in fields):
        return ses_events(fields, receiver)  # raw message delivery: the SES event itself
    kind = _required_text(fields, "Type", "")
    if kind in (SUBSCRIPTION_CONFIRMATION, UNSUBSCRIBE_CONFIRMATION):
        # Recorded (the request is stored) with no event; the confirmation itself is the
        # signature scheme's follow-up (confirm_subscription).
        _required_text(fields, "TopicArn", "")
        return []
    if kind != NOTIFICATION:
        raise PayloadRejected(
            f"unknown SNS message Type {kind!r}: expected {', '.join(SNS_TYPES)}"
            " (or an SES event sent with raw message delivery)"
        )
    message = fields.get("Message")
    if not isinstance(message, str):
        raise PayloadRejected(f"SNS Message: expected a JSON string, got {_kind(message)}")
    if message.strip() == VALIDATION_MESSAGE:
        return []  # SES's first message on a new topic
    if not message.lstrip().startswith("{"):
        raise PayloadRejected("SNS Message is not an Amazon SES event (not a JSON object)")
    try:
        event = decode_json(message.encode("utf-8"))
    except PayloadRejected as rejection:
        raise PayloadRejected(f"SNS Message: {rejection.reason}") from None
    except UnicodeEncodeError:
        raise PayloadRejected("SNS Message: an unpaired UTF-16 surrogate") from None
    if not isinstance(event, dict):
        raise PayloadRejected(f"SNS Message: expected a JSON object, got {_kind(event)}")
    return ses_events(event, receiver, fields)


def ses_events(
    event: Mapping[str, Any], receiver: ReceiverContext, sns: Mapping[str, Any] | None = None
) -> list[Event]:
    """The events of one SES event (``sns``: the envelope it came in, for its Timestamp)."""
    kind = _text(event, "eventType", "") or _text(event, "notificationType", "")
    if kind is None:
        raise PayloadRejected("an SES event needs eventType or notificationType")
    parse_kind = _PARSERS.get(kind)
    if parse_kind is None:
        return []  # an eventType SES adds: kept raw
    mail = _object(event, "mail", "")
    message_id = _required_text(mail, "messageId", "mail.")
    fallback = _time(sns, "Timestamp", "", receiver) if sns is not None else None
    occurred = _time(mail, "timestamp", "mail.", receiver) or fallback
    return parse_kind(_Ses(event, mail, message_id, occurred, receiver))


@dataclass(frozen=True, slots=True)
class _Ses:
    event: Mapping[str, Any]
    mail: Mapping[str, Any]
    message_id: str
    mail_time: datetime | None
    receiver: ReceiverContext

    def sender(self) -> str | None:
        source = _text(self.mail, "source", "mail.")
        found = parseaddr(source)[1] if source else ""
        return address(found, None, field="mail.source") if found else None

    def common_metadata(self) -> dict[str, JSONValue]:
        headers = self.mail.get("commonHeaders")
        subject = _text(headers, "subject", "mail.commonHeaders.") if _is_object(headers) else None
        return {"subject": subject} if subject is not None else {}

    def subject(self) -> str | None:
        headers = self.mail.get("commonHeaders")
        return _text(headers, "subject", "mail.commonHeaders.") if _is_object(headers) else None

    def status(
        self,
        word: str,
        recipient: str | None,
        at: datetime | None,
        extra: Mapping[str, JSONValue],
        *,
        detail: str | None = None,
        key: str | None = None,
    ) -> StatusReported:
        status, reason, kind, bounce_type = SES_STATUSES.get(word, PERMANENT_BOUNCE)
        return StatusReported(
            dedupe_key=key or f"status:{self.message_id}:{recipient}:{word}",
            provider_message_id=self.message_id,
            channel=Channel.EMAIL,
            status=status,
            provider_status=word,
            failure_reason=reason,
            occurred_at=at or self.mail_time,
            recipient=recipient,
            sender=self.sender(),
            metadata={**self.common_metadata(), **extra},
            kind=kind,
            bounce_type=bounce_type,
            detail=detail,
            subject=self.subject(),
        )


def _delivery(ses: _Ses) -> list[Event]:
    delivery = _object(ses.event, "delivery", "")
    at = _time(delivery, "timestamp", "delivery.", ses.receiver)
    extra = _texts(delivery, ("smtpResponse", "reportingMTA"), "delivery.")
    return [
        ses.status("Delivery", recipient, at, extra)
        for recipient in _addresses(delivery, "recipients", "delivery.")
    ]


def _bounce(ses: _Ses) -> list[Event]:
    bounce = _object(ses.event, "bounce", "")
    bounce_type = _required_text(bounce, "bounceType", "bounce.")
    subtype = _text(bounce, "bounceSubType", "bounce.") or "Undetermined"
    recipients = _objects(bounce, "bouncedRecipients", "bounce.")
    if bounce_type == "Permanent":
        word = f"Bounce/{bounce_type}/{subtype}"
    elif bounce_type == "Transient":
        word = "Bounce/Transient"
    else:
        word = "Bounce/Undetermined"
    hard = SES_STATUSES.get(word, PERMANENT_BOUNCE)[3] is BounceType.HARD
    at = _time(bounce, "timestamp", "bounce.", ses.receiver)
    feedback_id = _text(bounce, "feedbackId", "bounce.") or f"{ses.message_id}:bounce"
    common = _texts(bounce, ("bounceType", "bounceSubType", "feedbackId"), "bounce.")
    events: list[Event] = []
    for index, bounced in enumerate(recipients):
        where = f"bounce.bouncedRecipients[{index}]."
        recipient = _email(bounced, "emailAddress", where)
        extra = _texts(bounced, ("status", "action", "diagnosticCode"), where)
        detail = _text(bounced, "diagnosticCode", where)
        key = None if bounce_type == "Permanent" else f"status:{feedback_id}:{recipient}"
        events.append(ses.status(word, recipient, at, {**common, **extra}, detail=detail, key=key))
        if hard:  # SES puts a hard-bounced address on its suppression list
            events.append(
                OptOutReported(
                    dedupe_key=f"optout:{feedback_id}:{recipient}",
                    address=recipient,
                    channel=Channel.EMAIL,
                    occurred_at=at or ses.mail_time,
                    source=OptOutSource.SUPPRESSION,
                    provider_message_id=ses.message_id,
                    text=f"{word}: {detail}" if detail else word,
                )
            )
    return events


def _complaint(ses: _Ses) -> list[Event]:
    complaint = _object(ses.event, "complaint", "")
    feedback_type = _text(complaint, "complaintFeedbackType", "complaint.")
    recipients = _objects(complaint, "complainedRecipients", "complaint.")
    if feedback_type == "not-spam":
        return []  # the reporter says it is *not* spam: no opt-out
    feedback_id = _text(complaint, "feedbackId", "complaint.") or f"{ses.message_id}:complaint"
    at = _time(complaint, "timestamp", "complaint.", ses.receiver) or ses.mail_time
    text = f"complaint {feedback_type or 'without a feedback type'}"
    events: list[Event] = []
    for index, complained in enumerate(recipients):
        recipient = _email(complained, "emailAddress", f"complaint.complainedRecipients[{index}].")
        extra = _texts(complaint, ("complaintFeedbackType", "feedbackId"), "complaint.")
        events.append(
            ses.status(
                "Complaint",
                recipient,
                at,
                extra,
                detail=text,
                key=f"status:{feedback_id}:{recipient}",
            )
        )
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{feedback_id}:{recipient}",
                address=recipient,
                channel=Channel.EMAIL,
                occurred_at=at,
                source=OptOutSource.COMPLAINT,
                provider_message_id=ses.message_id,
                text=text,
            )
        )
    return events


def _send(ses: _Ses) -> list[Event]:
    return [
        ses.status("Send", recipient, None, {})
        for recipient in _addresses(ses.mail, "destination", "mail.")
    ]


def _single_destination(ses: _Ses) -> str | None:
    """An open or click names no recipient: the one it was sent to, when only one."""
    destination = _addresses(ses.mail, "destination", "mail.")
    return destination[0] if len(destination) == 1 else None


def _open(ses: _Ses) -> list[Event]:
    opened = _object(ses.event, "open", "")
    at_text = _text(opened, "timestamp", "open.")
    at = _time(opened, "timestamp", "open.", ses.receiver)
    extra = _texts(opened, ("userAgent", "ipAddress"), "open.")
    key = f"status:{ses.message_id}:Open:{at_text}"
    return [ses.status("Open", _single_destination(ses), at, extra, key=key)]


def _click(ses: _Ses) -> list[Event]:
    click = _object(ses.event, "click", "")
    at_text = _text(click, "timestamp", "click.")
    at = _time(click, "timestamp", "click.", ses.receiver)
    link = _text(click, "link", "click.")
    extra = _texts(click, ("userAgent", "ipAddress"), "click.")
    digest = hashlib.sha256((link or "").encode()).hexdigest()[:12]
    key = f"status:{ses.message_id}:Click:{at_text}:{digest}"
    return [ses.status("Click", _single_destination(ses), at, extra, detail=link, key=key)]


def _delivery_delay(ses: _Ses) -> list[Event]:
    delay = _object(ses.event, "deliveryDelay", "")
    at_text = _text(delay, "timestamp", "deliveryDelay.")
    at = _time(delay, "timestamp", "deliveryDelay.", ses.receiver)
    delay_type = _text(delay, "delayType", "deliveryDelay.")
    common = _texts(delay, ("delayType", "expirationTime", "reportingMTA"), "deliveryDelay.")
    events: list[Event] = []
    for index, delayed in enumerate(_objects(delay, "delayedRecipients", "deliveryDelay.")):
        where = f"deliveryDelay.delayedRecipients[{index}]."
        recipient = _email(delayed, "emailAddress", where)
        extra = _texts(delayed, ("status", "diagnosticCode"), where)
        detail = _text(delayed, "diagnosticCode", where) or delay_type
        key = f"status:{ses.message_id}:{recipient}:DeliveryDelay:{at_text}"
        events.append(
            ses.status("DeliveryDelay", recipient, at, {**common, **extra}, detail=detail, key=key)
        )
    return events


def _subscription(ses: _Ses) -> list[Event]:
    """A change of subscription through SES's list management: unsubscribing from all of a
    contact list's topics is an opt-out (subscribing again, an opt-in); from some topics, an
    UNSUBSCRIBED report only (the ledger has no topics)."""
    subscription = _object(ses.event, "subscription", "")
    at_text = _text(subscription, "timestamp", "subscription.")
    at = _time(subscription, "timestamp", "subscription.", ses.receiver) or ses.mail_time
    new = _optional_object(subscription, "newTopicPreferences")
    old = _optional_object(subscription, "oldTopicPreferences")
    contact_list = _text(subscription, "contactList", "subscription.")
    all_now, all_before = new.get("unsubscribeAll") is True, old.get("unsubscribeAll") is True
    topics = new.get("topicSubscriptionStatus")
    left = [
        str(t.get("topicName"))
        for t in (topics if isinstance(topics, list) else [])
        if _is_object(t) and t.get("subscriptionStatus") == "OptOut"
    ]
    extra = _texts(subscription, ("contactList", "source"), "subscription.")
    events: list[Event] = []
    for recipient in _addresses(ses.mail, "destination", "mail."):
        key = f"{ses.message_id}:{recipient}:Subscription:{at_text}"
        if all_now or left:
            what = "all topics" if all_now else ", ".join(left)
            detail = f"unsubscribed from {what} of {contact_list or 'the contact list'}"
            events.append(
                ses.status("Subscription", recipient, at, extra, detail=detail, key=f"status:{key}")
            )
        if all_now != all_before:
            events.append(
                OptOutReported(
                    dedupe_key=f"optout:{key}",
                    address=recipient,
                    channel=Channel.EMAIL,
                    occurred_at=at,
                    source=OptOutSource.UNSUBSCRIBE,
                    opted_in=not all_now,
                    provider_message_id=ses.message_id,
                    text=f"Subscription: {contact_list or 'contact list'}",
                )
            )
    return events


def _reject(ses: _Ses) -> list[Event]:
    extra = _texts(_object(ses.event, "reject", ""), ("reason",), "reject.")
    return [
        ses.status("Reject", recipient, None, extra)
        for recipient in _addresses(ses.mail, "destination", "mail.")
    ]


def _rendering_failure(ses: _Ses) -> list[Event]:
    extra = _texts(_object(ses.event, "failure", ""), ("errorMessage", "templateName"), "failure.")
    return [
        ses.status("Rendering Failure", recipient, None, extra)
        for recipient in _addresses(ses.mail, "destination", "mail.")
    ]


def _received(ses: _Ses) -> list[Event]:
    receipt = _object(ses.event, "receipt", "")
    recipients = _addresses(receipt, "recipients", "receipt.")
    action = _optional_object(receipt, "action")
    headers = _optional_object(ses.mail, "commonHeaders")
    sender = _from_header(headers) or ses.sender()
    if sender is None:
        raise PayloadRejected("Received: no sender (mail.commonHeaders.from or mail.source)")
    metadata: dict[str, JSONValue] = {
        **ses.common_metadata(),
        **_texts(action, ("type", "bucketName", "objectKey"), "receipt.action."),
    }
    source = _text(ses.mail, "source", "mail.")
    if source is not None:
        metadata["envelope_sender"] = source
    for verdict in ("spamVerdict", "virusVerdict"):
        found = receipt.get(verdict)
        if _is_object(found) and (status := _text(found, "status", f"receipt.{verdict}.")):
            metadata[verdict] = status
    if len(recipients) > 1:
        metadata["recipients"] = list(recipients)
    return [
        MessageReceived(
            dedupe_key=f"inbound:{ses.message_id}",
            provider_message_id=ses.message_id,
            channel=Channel.EMAIL,
            sender=sender,
            recipient=recipients[0] if recipients else None,
            body=_text_body(ses.event, action),
            occurred_at=_time(receipt, "timestamp", "receipt.", ses.receiver) or ses.mail_time,
            provider_status="Received",
            metadata=metadata,
            subject=ses.subject(),
        )
    ]


_PARSERS = {
    "Send": _send,
    "Delivery": _delivery,
    "DeliveryDelay": _delivery_delay,
    "Open": _open,
    "Click": _click,
    "Subscription": _subscription,
    "Bounce": _bounce,
    "Complaint": _complaint,
    "Reject": _reject,
    "Rendering Failure": _rendering_failure,
    "Received": _received,
}


def _from_header(headers: Mapping[str, Any]) -> str | None:
    values = headers.get("from")
    if not isinstance(values, list) or not values or not isinstance(values[0], str):
        return None
    found = [pair[1] for pair in getaddresses([values[0]]) if "@" in pair[1]]
    return address(found[0], None, field="mail.commonHeaders.from") if found else None


def _text_body(event: Mapping[str, Any], action: Mapping[str, Any]) -> str | None:
    """The e-mail's text part, when the SNS action carried the e-mail (``content``)."""
    content = event.get("content")
    if content is None:
        return None  # an S3 action: the e-mail is in the bucket, not in the notification
    if not isinstance(content, str):
        raise PayloadRejected(f"content: expected a JSON string, got {_kind(content)}")
    if _text(action, "encoding", "receipt.action.") == "BASE64":
        try:
            raw = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise PayloadRejected(
                "content: not base64 (receipt.action.encoding is BASE64)"
            ) from None
    else:
        raw = content.encode("utf-8", "surrogateescape")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        return None
    try:
        part = message.get_body(preferencelist=("plain",))
        text = part.get_content() if part is not None else None
    except (LookupError, ValueError, UnicodeError, AttributeError, TypeError):
        raise PayloadRejected("content: the e-mail's text part cannot be decoded") from None
    return text if isinstance(text, str) else None


# --- Reading SES fields, with their paths in reasons ---------------------------------------


def _kind(value: Any) -> str:
    return f"a JSON {json_kind(value)}"


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _object(fields: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = fields.get(key)
    if not isinstance(value, dict):
        missing = "missing" if value is None else f"expected a JSON object, got {_kind(value)}"
        raise PayloadRejected(f"{where}{key}: {missing}")
    return value


def _optional_object(fields: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An object SES may leave out (empty then); anything but an object counts as left out."""
    value = fields.get(key)
    return value if isinstance(value, dict) else {}


def _objects(fields: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    value = fields.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadRejected(f"{where}{key}: expected a JSON array of objects")
    return value


def _text(fields: Mapping[str, Any] | None, key: str, where: str) -> str | None:
    if fields is None:
        return None
    try:
        return optional_str(fields, key)
    except PayloadRejected:
        raise PayloadRejected(
            f"{where}{key}: expected text, got {_kind(fields.get(key))}"
        ) from None


def _required_text(fields: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(fields, key, where)
    if value is None:
        raise PayloadRejected(f"missing {where}{key}")
    return value


def _texts(fields: Mapping[str, Any], keys: Sequence[str], where: str) -> dict[str, JSONValue]:
    found = {key: _text(fields, key, where) for key in keys}
    return {key: value for key, value in found.items() if value is not None}


def _email(fields: Mapping[str, Any], key: str, where: str) -> str:
    return address(_required_text(fields, key, where), None, field=f"{where}{key}")


def _addresses(fields: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = fields.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise PayloadRejected(f"{where}{key}: expected a JSON array of addresses")
    return [address(item, None, field=f"{where}{key}") for item in value if item.strip()]


def _time(
    fields: Mapping[str, Any] | None, key: str, where: str, receiver: ReceiverContext
) -> datetime | None:
    value = _text(fields, key, where)
    if value is None:
        return None
    return parse_timestamp(value, naive_zone=receiver.timezone, field=f"{where}{key}")


# --- The SNS signature -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SnsSigningKey:
    """What ``verify`` gets from ``fetch_certificate``: the key of the certificate at the
    message's ``SigningCertURL``, and the topics the receiver trusts."""

    certificate_url: str
    public_key: rsa.RSAPublicKey
    topic_arns: frozenset[str]


def load_topic_arn(text: str) -> str:
    """A configured ``auth.signature`` entry: an SNS topic ARN."""
    value = text.strip()
    if not TOPIC_ARN.fullmatch(value):
        raise ValueError(
            "expected an SNS topic ARN such as arn:aws:sns:eu-west-1:123456789012:ses-events"
        )
    return value


def _envelope(request: SignedRequest) -> dict[str, Any]:
    """The SNS message, its headers checked against it; SignatureRejected otherwise."""
    try:
        fields = decode_json_object(request.body)
    except PayloadRejected as rejection:
        raise SignatureRejected(f"not a signed SNS message: {rejection.reason}") from None
    kind = fields.get("Type")
    if kind not in SNS_TYPES:
        raise SignatureRejected(
            f"not a signed SNS message: Type is {kind!r}, expected one of {', '.join(SNS_TYPES)}"
        )
    for header, key in (
        ("x-amz-sns-message-type", "Type"),
        ("x-amz-sns-topic-arn", "TopicArn"),
        ("x-amz-sns-message-id", "MessageId"),
    ):
        sent = request.headers.get(header)
        if sent is not None and sent != fields.get(key):
            raise SignatureRejected(f"the {header} header does not match the message's {key}")
    return fields


def _signed_text(fields: Mapping[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str):
        raise SignatureRejected(f"SNS message without {key}")
    return value


def _trusted_topic(fields: Mapping[str, Any], topics: frozenset[str]) -> str:
    topic = _signed_text(fields, "TopicArn")
    if topic not in topics:
        raise SignatureRejected(f"topic {topic} is not one this receiver trusts")
    return topic


def certificate_url(fields: Mapping[str, Any]) -> str:
    """``SigningCertURL``, when it is an HTTPS URL of a ``.pem`` on an SNS host."""
    return _sns_url(_signed_text(fields, "SigningCertURL"), "SigningCertURL", pem=True)


def _sns_url(url: str, what: str, *, pem: bool) -> str:
    if not URL_TEXT.fullmatch(url):
        raise SignatureRejected(f"{what} is not a plain https:// URL")
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.netloc != host or not SNS_HOST.fullmatch(host):
        # (netloc == host: no credentials, no port, lower case, nothing for a parser to
        # read differently than urllib does)
        shown = f"{parts.netloc!r:.80}"
        raise SignatureRejected(
            f"{what} is not on an Amazon SNS host (sns.<region>.amazonaws.com): {shown}"
        )
    if pem and not (parts.path.endswith(".pem") and not parts.query and not parts.fragment):
        raise SignatureRejected(f"{what} does not name a .pem certificate")
    return url


def confirmation_url(fields: Mapping[str, Any]) -> str:
    """``SubscribeURL`` of a SubscriptionConfirmation, when it confirms this very topic on
    an SNS host."""
    url = _sns_url(_signed_text(fields, "SubscribeURL"), "SubscribeURL", pem=False)
    query = parse_qs(urlsplit(url).query)
    if query.get("Action") != ["ConfirmSubscription"] or query.get("TopicArn") != [
        fields.get("TopicArn")
    ]:
        raise SignatureRejected("SubscribeURL does not confirm a subscription to this topic")
    return url


def string_to_sign(fields: Mapping[str, Any]) -> bytes:
    """What SNS signs: ``key\\nvalue\\n`` for each signed field of the message's Type."""
    kind = _signed_text(fields, "Type")
    lines = []
    for key in SIGNED_FIELDS[kind]:
        if key == "Subject" and fields.get(key) is None:
            continue  # signed only when the message has one
        lines.append(f"{key}\n{_signed_text(fields, key)}\n")
    return "".join(lines).encode("utf-8")


def _public_key(pem: bytes) -> rsa.RSAPublicKey:
    try:
        key = x509.load_pem_x509_certificate(pem).public_key()
    except ValueError:
        raise SignatureRejected("SigningCertURL does not hold a PEM certificate") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureRejected("SigningCertURL holds a certificate without an RSA key")
    return key


@dataclass(frozen=True, slots=True)
class _Signed:
    """What a signed SNS message says about its signature, read before anything is fetched."""

    fields: Mapping[str, Any]
    topic: str
    certificate_url: str
    algorithm: type[hashes.HashAlgorithm]
    signature: bytes
    signed: bytes


def _signed_message(request: SignedRequest, topics: frozenset[str] | None) -> _Signed:
    """The message's signature and what it signs; with ``topics``, its topic must be one."""
    fields = _envelope(request)
    topic = (
        _trusted_topic(fields, topics) if topics is not None else _signed_text(fields, "TopicArn")
    )
    url = certificate_url(fields)
    version = fields.get("SignatureVersion")
    algorithm = SIGNATURE_HASHES.get(version) if isinstance(version, str) else None
    if algorithm is None:
        raise SignatureRejected(f"SignatureVersion {version!r} is not 1 or 2")
    try:
        signature = base64.b64decode(_signed_text(fields, "Signature"), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected("Signature is not base64") from None
    return _Signed(fields, topic, url, algorithm, signature, string_to_sign(fields))


async def fetch_certificate(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    _: ReceiverContext,
    fetcher: Fetcher,
) -> Sequence[SignatureKey]:
    """Before ``verify``: the topic must be trusted, the certificate URL an SNS one and the
    message complete (all checked before any request is made); then the certificate is
    fetched (cached per URL)."""
    topics = frozenset(keys)
    message = _signed_message(request, topics)
    pem = require_ok(await fetcher.get(message.certificate_url, cache=True), "SigningCertURL")
    return [SnsSigningKey(message.certificate_url, _public_key(pem), topics)]


def verify(
    request: SignedRequest, keys: Sequence[SignatureKey], _: ReceiverContext, now: datetime
) -> None:
    if not keys or not all(isinstance(key, SnsSigningKey) for key in keys):
        raise SignatureRejected("the SNS signing certificate was not fetched")
    message = _signed_message(request, None)
    verified = False
    for key in keys:
        if key.certificate_url != message.certificate_url or message.topic not in key.topic_arns:
            continue
        try:
            key.public_key.verify(
                message.signature, message.signed, padding.PKCS1v15(), message.algorithm()
            )
        except InvalidSignature:
            continue
        verified = True
    if not verified:
        raise SignatureRejected(MISMATCH)
    try:
        signed_at = parse_timestamp(_signed_text(message.fields, "Timestamp"), field="Timestamp")
    except PayloadRejected as rejection:
        raise SignatureRejected(rejection.reason) from None
    if not now - MAX_AGE <= signed_at <= now + MAX_SKEW:
        raise SignatureRejected(
            f"Timestamp is more than {MAX_AGE.seconds} s old (or {MAX_SKEW.seconds} s ahead)"
        )
    if message.fields["Type"] == SUBSCRIPTION_CONFIRMATION:
        confirmation_url(message.fields)


async def confirm_subscription(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    context: ReceiverContext,
    fetcher: Fetcher,
) -> str | None:
    """After a verified SubscriptionConfirmation is stored: visit its ``SubscribeURL`` (the
    topic is a trusted one: ``verify`` saw to it). A refusal from SNS (an expired token)
    is logged, not retried; no answer at all is Unreachable (503: SNS sends it again)."""
    fields = _envelope(request)
    topic = fields.get("TopicArn")
    if fields["Type"] == UNSUBSCRIBE_CONFIRMATION:
        return f"SNS topic {topic} ended its subscription (UnsubscribeConfirmation recorded)"
    if fields["Type"] != SUBSCRIPTION_CONFIRMATION:
        return None
    options = context.options
    if isinstance(options, SesOptions) and not options.auto_confirm:
        return f"subscription to SNS topic {topic} left unconfirmed (auto_confirm = false)"
    try:
        require_ok(await fetcher.get(confirmation_url(fields)), "SubscribeURL")
    except SignatureRejected as refused:
        return (
            f"subscription to SNS topic {topic} NOT confirmed ({refused.reason}):"
            " confirm it in the SNS console"
        )
    return f"subscription to SNS topic {topic} confirmed"


SIGNATURE = SignatureScheme(
    verify=verify,
    sign=None,  # AWS signs; Callbox has no key to sign with
    key_kind="SNS topic ARN",
    load_key=load_topic_arn,
    fetch_keys=fetch_certificate,
    after_accepted=confirm_subscription,
)


# --- Samples ---------------------------------------------------------------------------------


def _notification(message_id: str, topic: str, at: str, event: Mapping[str, Any]) -> bytes:
    """An SNS Notification carrying an SES event, built as SNS builds it (unsigned here)."""
    envelope = {
        "Type": NOTIFICATION,
        "MessageId": message_id,
        "TopicArn": topic,
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(event),
        "Timestamp": at,
        "SignatureVersion": "1",
        "Signature": "EXAMPLE-SIGNATURE==",
        "SigningCertURL": (
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-12345abcde.pem"
        ),
        "UnsubscribeURL": (
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn..."
        ),
    }
    return json.dumps(envelope, indent=2).encode()


SNS_CONTENT_TYPE = "text/plain; charset=UTF-8"
EVENTS_TOPIC = "arn:aws:sns:us-east-1:123456789012:SES_Events"

# django-anymail's tests (tests/test_amazon_ses_webhooks.py), from AWS's documented examples.
SAMPLES = (
    SamplePayload(
        description="Bounce, permanent (identity notification, AWS's documented example)",
        content_type=SNS_CONTENT_TYPE,
        body=(
            b"{\n"
            b'  "Type": "Notification",\n'
            b'  "MessageId": "19ba9823-d7f2-53c1-860e-cb10e0d13dfc",\n'
            b'  "TopicArn": "arn:aws:sns:us-east-1:1234567890:SES_Events",\n'
            b'  "Subject": "Amazon SES Email Event Notification",\n'
            b'  "Message": "{\\"notificationType\\": \\"Bounce\\", \\"bounce\\": {\\"bounceType'
            b'\\": \\"Permanent\\", \\"reportingMTA\\": \\"dns; email.example.com\\", \\"bo'
            b'uncedRecipients\\": [{\\"emailAddress\\": \\"jane@example.com\\", \\"status'
            b'\\": \\"5.1.1\\", \\"action\\": \\"failed\\", \\"diagnosticCode\\": \\"smtp; 55'
            b'0 5.1.1 <jane@example.com>... User unknown\\"}], \\"bounceSubType\\": \\"Gener'
            b'al\\", \\"timestamp\\": \\"2016-01-27T14:59:44.101Z\\", \\"feedbackId\\": \\"'
            b'00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000\\", \\"remoteMt'
            b'aIp\\": \\"127.0.2.0\\"}, \\"mail\\": {\\"timestamp\\": \\"2016-01-27T14:59:3'
            b'8.237Z\\", \\"source\\": \\"john@example.com\\", \\"sourceArn\\": \\"arn:aws:'
            b'ses:us-west-2:888888888888:identity/example.com\\", \\"sourceIp\\": \\"127.0.3'
            b'.0\\", \\"sendingAccountId\\": \\"123456789012\\", \\"messageId\\": \\"000001'
            b'38111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000\\", \\"destination\\":'
            b' [\\"jane@example.com\\", \\"mary@example.com\\", \\"richard@example.com\\"], \\"'
            b'headersTruncated\\": false, \\"headers\\": [{\\"name\\": \\"From\\", \\"value'
            b'\\": \\"\\\\\\"John Doe\\\\\\" <john@example.com>\\"}, {\\"name\\": \\"To\\",'
            b' \\"value\\": \\"\\\\\\"Jane Doe\\\\\\" <jane@example.com>, \\\\\\"Mary Doe\\'
            b'\\\\" <mary@example.com>, \\\\\\"Richard Doe\\\\\\" <richard@example.com>\\"},'
            b' {\\"name\\": \\"Message-ID\\", \\"value\\": \\"custom-message-ID\\"}, {\\"nam'
            b'e\\": \\"Subject\\", \\"value\\": \\"Hello\\"}, {\\"name\\": \\"Content-Type\\",'
            b' \\"value\\": \\"text/plain; charset=\\\\\\"UTF-8\\\\\\"\\"}, {\\"name\\": \\'
            b'"Content-Transfer-Encoding\\", \\"value\\": \\"base64\\"}, {\\"name\\": \\"Da'
            b'te\\", \\"value\\": \\"Wed, 27 Jan 2016 14:05:45 +0000\\"}, {\\"name\\": \\"X'
            b'-Tag\\", \\"value\\": \\"tag 1\\"}, {\\"name\\": \\"X-Tag\\", \\"value\\": \\"tag'
            b' 2\\"}, {\\"name\\": \\"X-Metadata\\", \\"value\\": \\"{\\\\\\"meta1\\\\\\":\\\\'
            b'\\"string\\\\\\",\\\\\\"meta2\\\\\\":2}\\"}], \\"commonHeaders\\": {\\"from\\":'
            b' [\\"John Doe <john@example.com>\\"], \\"date\\": \\"Wed, 27 Jan 2016 14:05:45 '
            b'+0000\\", \\"to\\": [\\"Jane Doe <jane@example.com>, Mary Doe <mary@example.co'
            b'm>, Richard Doe <richard@example.com>\\"], \\"messageId\\": \\"custom-message-'
            b'ID\\", \\"subject\\": \\"Hello\\"}}}\\n",\n'
            b'  "Timestamp": "2018-03-26T17:58:59.675Z",\n'
            b'  "SignatureVersion": "1",\n'
            b'  "Signature": "EXAMPLE-SIGNATURE==",\n'
            b'  "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificatio'
            b'nService-12345abcde.pem",\n'
            b'  "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscri'
            b'be&SubscriptionArn=arn..."\n'
            b"}\n"
        ),
    ),
    SamplePayload(
        description="Delivery (identity notification)",
        content_type=SNS_CONTENT_TYPE,
        body=_notification(
            "ab1a2a10-8a1c-5a6f-9f0b-2bd2b6a5c1e1",
            EVENTS_TOPIC,
            "2016-01-27T14:59:39.001Z",
            {
                "notificationType": "Delivery",
                "mail": {
                    "timestamp": "2016-01-27T14:59:38.237Z",
                    "messageId": "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
                    "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
                },
                "delivery": {
                    "timestamp": "2016-01-27T14:59:38.237Z",
                    "recipients": ["jane@example.com"],
                    "processingTimeMillis": 546,
                    "reportingMTA": "a8-70.smtp-out.amazonses.com",
                    "smtpResponse": "250 ok:  Message 64111812 accepted",
                    "remoteMtaIp": "127.0.2.0",
                },
            },
        ),
    ),
    SamplePayload(
        description="Bounce of several recipients (event publishing)",
        content_type=SNS_CONTENT_TYPE,
        body=_notification(
            "c6f2a4b4-3e1f-5d3c-9a77-0f5f2b1d8e42",
            EVENTS_TOPIC,
            "2017-08-05T00:41:02.801Z",
            {
                "eventType": "Bounce",
                "bounce": {
                    "bounceType": "Permanent",
                    "bounceSubType": "NoEmail",
                    "bouncedRecipients": [
                        {
                            "emailAddress": "nobody@example.com",
                            "action": "failed",
                            "status": "5.1.1",
                            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                        },
                        {
                            "emailAddress": "Gone@Example.org",
                            "action": "failed",
                            "status": "5.1.1",
                            "diagnosticCode": "smtp; 550 5.1.1 mailbox does not exist",
                        },
                    ],
                    "timestamp": "2017-08-05T00:41:02.669Z",
                    "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
                    "reportingMTA": "dsn; mta.example.com",
                },
                "mail": {
                    "timestamp": "2017-08-05T00:40:02.012Z",
                    "source": "Sender Name <sender@example.com>",
                    "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
                    "destination": ["nobody@example.com", "Gone@Example.org"],
                    "commonHeaders": {"subject": "Your order"},
                },
            },
        ),
    ),
    SamplePayload(
        description="Complaint (identity notification, AWS's documented example)",
        content_type=SNS_CONTENT_TYPE,
        body=_notification(
            "9a0d8e35-2ec0-5b15-8d4e-9c9e1d1ab0f7",
            EVENTS_TOPIC,
            "2016-01-27T14:59:39.237Z",
            {
                "notificationType": "Complaint",
                "complaint": {
                    "userAgent": "AnyCompany Feedback Loop (V0.01)",
                    "complainedRecipients": [{"emailAddress": "richard@example.com"}],
                    "complaintFeedbackType": "abuse",
                    "arrivalDate": "2016-01-27T14:59:38.237Z",
                    "timestamp": "2016-01-27T14:59:38.237Z",
                    "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
                },
                "mail": {
                    "timestamp": "2016-01-27T14:59:38.237Z",
                    "messageId": "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
                    "source": "john@example.com",
                    "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
                },
            },
        ),
    ),
    SamplePayload(
        description="Reject: SES found a virus (event publishing)",
        content_type=SNS_CONTENT_TYPE,
        body=_notification(
            "0f7e8d3a-53f1-5a8e-b0e4-6e6a1d6f4c21",
            EVENTS_TOPIC,
            "2016-10-14T17:38:15.301Z",
            {
                "eventType": "Reject",
                "mail": {
                    "timestamp": "2016-10-14T17:38:15.211Z",
                    "messageId": "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
                    "destination": ["recipient@example.com"],
                },
                "reject": {"reason": "Bad content"},
            },
        ),
    ),
    SamplePayload(
        description="Rendering Failure: the template could not be rendered (event publishing)",
        content_type=SNS_CONTENT_TYPE,
        body=_notification(
            "5d1c0b2e-7a8f-5e3d-a1b2-c3d4e5f60718",
            EVENTS_TOPIC,
            "2017-08-09T22:00:19.652Z",
            {
                "eventType": "Rendering Failure",
                "mail": {
                    "messageId": "c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
                    "destination": ["recipient@example.com"],
                },
                "failure": {
                    "errorMessage": (
                        "Attribute 'attributeName' is not present in the rendering data."
                    ),
                    "templateName": "MyTemplate",
                },
            },
        ),
    ),
    SamplePayload(
        description="Received: an inbound e-mail, its content in the notification (SNS action)",
        content_type=SNS_CONTENT_TYPE,
        body=_notification(
            "8f6dee70-c885-558a-be7d-bd48bbf5335e",
            "arn:aws:sns:us-east-1:111111111111:SES_Inbound",
            "2018-03-30T17:17:36.516Z",
            {
                "notificationType": "Received",
                "mail": {
                    "timestamp": "2018-03-30T17:21:51.636Z",
                    "source": "envelope-from@example.org",
                    "messageId": "jili9m351il3gkburn7o2f0u6788stij94c8ld01",
                    "destination": ["inbound@example.com", "someone-else@example.org"],
                    "commonHeaders": {
                        "returnPath": "bounce-handler@mail.example.org",
                        "from": ['"Sender, Inc." <from@example.org>'],
                        "date": "Fri, 30 Mar 2018 10:21:50 -0700",
                        "to": ["Recipient <inbound@example.com>", "someone-else@example.org"],
                        "messageId": "<CAEPk3RKsi@mail.example.org>",
                        "subject": "Test inbound message",
                    },
                },
                "receipt": {
                    "timestamp": "2018-03-30T17:21:51.636Z",
                    "processingTimeMillis": 357,
                    "recipients": ["inbound@example.com"],
                    "spamVerdict": {"status": "PASS"},
                    "virusVerdict": {"status": "PASS"},
                    "action": {
                        "type": "SNS",
                        "topicArn": "arn:aws:sns:us-east-1:111111111111:SES_Inbound",
                        "encoding": "UTF8",
                    },
                },
                "content": (
                    'From: "Sender, Inc." <from@example.org>\r\n'
                    "Date: Fri, 30 Mar 2018 10:21:50 -0700\r\n"
                    "Message-ID: <CAEPk3RKsi@mail.example.org>\r\n"
                    "Subject: Test inbound message\r\n"
                    "To: Recipient <inbound@example.com>, someone-else@example.org\r\n"
                    "MIME-Version: 1.0\r\n"
                    'Content-Type: multipart/alternative; boundary="94eb2c05e174adb140055b6339c5"'
                    "\r\n\r\n--94eb2c05e174adb140055b6339c5\r\n"
                    'Content-Type: text/plain; charset="UTF-8"\r\n'
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                    "It's a body=E2=80=A6\r\n\r\n"
                    "--94eb2c05e174adb140055b6339c5\r\n"
                    'Content-Type: text/html; charset="UTF-8"\r\n'
                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                    '<div dir=3D"ltr">It\'s a body=E2=80=A6</div>\r\n\r\n'
                    "--94eb2c05e174adb140055b6339c5--\r\n"
                ),
            },
        ),
    ),
)

PROVIDER = Provider(
    name="amazon_ses",
    parse=parse,
    samples=SAMPLES,
    options_type=SesOptions,
    signature=SIGNATURE,
)
