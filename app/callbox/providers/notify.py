"""GOV.UK Notify callbacks (and its AU, CA, US and VA forks): receipts, inbound SMS, complaints,
returned letters; VA Notify's ``x-enp-signature``.

Notify posts one JSON object per callback and says nothing about its kind, so the kind is
told from the fields present: ``complaint_id`` (an e-mail complaint), ``source_number`` (an
inbound SMS), ``date_sent`` (GOV.UK's returned-letter callback) or
``status``/``notification_type`` (a delivery receipt). The status words are every fork's
``NOTIFICATION_STATUS_TYPES`` (alphagov/notifications-api ``app/constants.py``, GC Notify's
``app/models.py``, VA Notify's ``app/constants.py``, Notify.gov's ``app/enums.py``). Fields a
fork adds (``template_id``, GC Notify's ``status_description`` and ``provider_response``, VA
Notify's ``status_reason``, ``provider`` and ``provider_payload``, ...) are kept in the event's
metadata, and the failure texts the forks' code writes there sharpen the failure reason.

VA Notify signs the callbacks of notifications sent with a ``callback_url``: ``x-enp-signature``
is the hex HMAC-SHA256, keyed with the secret of the API key the notification was sent with, of
``urllib.parse.urlencode`` of the JSON object as sent (so ``null`` is ``None``)
(department-of-veterans-affairs/notification-api ``generate_callback_signature``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from callbox.model.vocabulary import Channel, FailureReason, Status
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
    SignatureKey,
    SignatureRejected,
    SignatureScheme,
    SignedRequest,
    StatusReported,
)
from callbox.providers.payloads import (
    address,
    decode_json_object,
    optional_str,
    parse_timestamp,
    required_str,
    text_value,
)
from callbox.providers.signatures import require_match, required_header

NOTIFY_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    # Accepted by Notify, not yet handed to a carrier (every fork).
    "created": (Status.PENDING, None),
    # An e-mail attachment or a letter's PDF is being scanned for viruses.
    "pending-virus-check": (Status.PENDING, None),
    # Handed to the SMS/e-mail provider, which has not yet reported delivery.
    "sending": (Status.SENT, None),
    "pending": (Status.SENT, None),
    # GOV.UK "sent internationally": the network gives no further delivery information.
    "sent": (Status.SENT, None),
    # Letters, in GOV.UK's API: at the printer; printed and posted (the post reports nothing more).
    "accepted": (Status.SENT, None),
    "received": (Status.SENT, None),
    "delivered": (Status.DELIVERED, None),
    # GOV.UK: the address or number does not exist or the network rejected the message.
    "permanent-failure": (Status.FAILED, FailureReason.PERMANENT),
    # GOV.UK: inbox full or phone off for too long; sending again later may work.
    "temporary-failure": (Status.FAILED, FailureReason.TEMPORARY),
    "technical-failure": (Status.FAILED, FailureReason.TECHNICAL),
    # Deprecated in GOV.UK; VA Notify's failure whose cause is only in status_reason.
    "failed": (Status.FAILED, FailureReason.UNKNOWN),
    # GC Notify: the SMS provider (AWS Pinpoint) refused the destination.
    "provider-failure": (Status.FAILED, FailureReason.PERMANENT),
    # GC Notify and VA Notify: the content holds personal information they refuse to send.
    "pii-check-failed": (Status.FAILED, FailureReason.BLOCKED),
    # An attachment or a letter's PDF carries a virus.
    "virus-scan-failed": (Status.FAILED, FailureReason.BLOCKED),
    # Letters: the PDF does not meet the printer's rules.
    "validation-failed": (Status.FAILED, FailureReason.PERMANENT),
    # Letters: posted, then returned to Notify (wrong address, moved away).
    "returned-letter": (Status.FAILED, FailureReason.PERMANENT),
    # Letters: cancelled by the service before printing.
    "cancelled": (Status.FAILED, FailureReason.UNKNOWN),
}

# The forks' own failure texts (in status_reason, provider_response or status_description),
# exactly as their code writes them, where they say more than the status word.
FAILURE_DETAILS: dict[str, FailureReason] = {
    # VA Notify app/constants.py STATUS_REASON_*.
    "Undeliverable - Phone number is invalid": FailureReason.INVALID_RECIPIENT,
    "Undeliverable - Individual or carrier has blocked the request": FailureReason.BLOCKED,
    "Undeliverable - Preferences declined in VA Profile": FailureReason.BLOCKED,
    "Undeliverable - No VA Profile contact information": FailureReason.INVALID_RECIPIENT,
    "Undeliverable - No VA Profile found in MPI": FailureReason.INVALID_RECIPIENT,
    "Undeliverable - Identifier not found in MPI": FailureReason.INVALID_RECIPIENT,
    "Retryable - Notification is unable to be processed at this time. Replay the request to VA"
    " Notify.": FailureReason.TEMPORARY,
    # GC Notify provider_response (AWS SNS/Pinpoint delivery failures, its suppression list).
    "Blocked as spam by phone carrier": FailureReason.BLOCKED,
    "Destination is on a blocked list": FailureReason.BLOCKED,
    "Invalid phone number": FailureReason.INVALID_RECIPIENT,
    "Phone number is opted out": FailureReason.BLOCKED,
    "The email address is on the GC Notify suppression list": FailureReason.BLOCKED,
    # GC Notify status_description (Notification.formatted_status).
    "No such number": FailureReason.INVALID_RECIPIENT,
    "No such address": FailureReason.INVALID_RECIPIENT,
    "Blocked": FailureReason.BLOCKED,
    "Can't send to this international number": FailureReason.BLOCKED,
}
# Most specific first: the provider's own words, then the fork's reason, then its summary.
_FAILURE_DETAIL_FIELDS = ("provider_response", "status_reason", "status_description")
# GC Notify: AWS says the number texted STOP to it ("Phone number is opted out").
_OPTED_OUT = "is opted out"

NOTIFICATION_TYPES: dict[str, Channel] = {
    "sms": Channel.SMS,
    "email": Channel.EMAIL,
    "letter": Channel.LETTER,
}

# The documented fields; everything else a fork adds is kept in metadata.
_RECEIPT_FIELDS = frozenset(
    {
        "id",
        "reference",
        "to",
        "status",
        "notification_type",
        "created_at",
        "completed_at",
        "sent_at",
    }
)
_INBOUND_FIELDS = frozenset(
    {
        "id",
        "source_number",
        "destination_number",
        "message",
        "date_received",
    }
)

# GOV.UK's returned-letter callback (send_returned_letter_to_service): told by these fields.
_RETURNED_LETTER_MARKERS = ("date_sent", "spreadsheet_file_name", "upload_letter_file_name")
_RETURNED_LETTER_FIELDS = frozenset({"notification_id", "reference", "date_sent"})
RETURNED_LETTER = "returned-letter"

_EXPECTED_KINDS = (
    "expected a Notify delivery receipt (id, status, notification_type, to), "
    "an inbound SMS (id, source_number, destination_number, message, date_received), "
    "an e-mail complaint (complaint_id, notification_id, to, complaint_date) "
    "or a returned letter (notification_id, reference, date_sent)"
)


def map_notify_status(value: str) -> tuple[Status, FailureReason | None]:
    """A Notify status word to Callbox's status; unknown words are ``UNKNOWN``."""
    return NOTIFY_STATUSES.get(value.lower(), (Status.UNKNOWN, None))


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    fields = decode_json_object(request.body)
    if "complaint_id" in fields or "complaint_date" in fields:
        return [parse_complaint(fields, receiver)]
    if "source_number" in fields or "date_received" in fields:
        return [parse_inbound_sms(fields, receiver)]
    if "status" not in fields and any(name in fields for name in _RETURNED_LETTER_MARKERS):
        return [parse_returned_letter(fields, receiver)]
    if "status" in fields or "notification_type" in fields:
        return parse_delivery_receipt(fields, receiver)
    keys = ", ".join(sorted(fields)) or "none"
    raise PayloadRejected(f"unrecognised Notify callback (fields: {keys}): {_EXPECTED_KINDS}")


def parse_delivery_receipt(fields: Mapping[str, Any], receiver: ReceiverContext) -> list[Event]:
    notification_id = required_str(fields, "id")
    provider_status = required_str(fields, "status")
    channel = _channel(required_str(fields, "notification_type"))
    status, failure_reason = map_notify_status(provider_status)
    if status is Status.FAILED:
        failure_reason = failure_detail(fields) or failure_reason
    created_at = _optional_time(fields, "created_at", receiver)
    sent_at = _optional_time(fields, "sent_at", receiver)
    completed_at = _optional_time(fields, "completed_at", receiver)
    to = optional_str(fields, "to")
    recipient = address(to, receiver.default_region, field="to") if to else None
    # completed_at is "the last time the status was updated", i.e. when this status took
    # effect; it is null until then, and sent_at/created_at are the earlier steps' times.
    occurred_at = completed_at or sent_at or created_at
    events: list[Event] = [
        StatusReported(
            dedupe_key=f"receipt:{notification_id}:{provider_status}",
            provider_message_id=notification_id,
            channel=channel,
            status=status,
            provider_status=provider_status,
            failure_reason=failure_reason,
            occurred_at=occurred_at,
            recipient=recipient,
            reference=optional_str(fields, "reference"),
            created_at=created_at,
            sent_at=sent_at,
            metadata=_extra_fields(fields, _RECEIPT_FIELDS),
        )
    ]
    response = optional_str(fields, "provider_response") or ""
    opted_out = status is Status.FAILED and _OPTED_OUT in response.lower()
    if opted_out and recipient is not None and channel is Channel.SMS:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{notification_id}",
                address=recipient,
                channel=channel,
                occurred_at=occurred_at,
                source="status",
                provider_message_id=notification_id,
                text=response,
            )
        )
    return events


def failure_detail(fields: Mapping[str, Any]) -> FailureReason | None:
    """What a fork's failure text says the cause is, when it says more than the status."""
    for name in _FAILURE_DETAIL_FIELDS:
        text = fields.get(name)
        if isinstance(text, str) and (reason := FAILURE_DETAILS.get(text.strip())):
            return reason
    response = fields.get("provider_response")
    if isinstance(response, str) and _OPTED_OUT in response.lower():
        return FailureReason.BLOCKED
    return None


def parse_inbound_sms(fields: Mapping[str, Any], receiver: ReceiverContext) -> MessageReceived:
    inbound_id = required_str(fields, "id")
    source_number = required_str(fields, "source_number")
    destination_number = optional_str(fields, "destination_number")
    return MessageReceived(
        dedupe_key=f"inbound:{inbound_id}",
        provider_message_id=inbound_id,
        channel=Channel.SMS,
        sender=address(source_number, receiver.default_region, field="source_number"),
        recipient=(
            address(destination_number, receiver.default_region, field="destination_number")
            if destination_number
            else None
        ),
        body=text_value(fields, "message"),
        occurred_at=_optional_time(fields, "date_received", receiver),
        metadata=_extra_fields(fields, _INBOUND_FIELDS),
    )


def parse_complaint(fields: Mapping[str, Any], receiver: ReceiverContext) -> OptOutReported:
    """An e-mail complaint (the recipient marked our e-mail as spam) is an opt-out."""
    complaint_id = required_str(fields, "complaint_id")
    to = required_str(fields, "to")
    return OptOutReported(
        dedupe_key=f"complaint:{complaint_id}",
        address=address(to, receiver.default_region, field="to"),
        channel=Channel.EMAIL,
        occurred_at=_optional_time(fields, "complaint_date", receiver),
        source="complaint",
        provider_message_id=optional_str(fields, "notification_id"),
        text=f"complaint {complaint_id}",
    )


def parse_returned_letter(fields: Mapping[str, Any], receiver: ReceiverContext) -> StatusReported:
    """GOV.UK's returned-letter callback: our letter came back undelivered. It names no
    recipient and no time of return; ``date_sent`` is when the letter was created."""
    notification_id = required_str(fields, "notification_id")
    status, failure_reason = NOTIFY_STATUSES[RETURNED_LETTER]
    return StatusReported(
        # The same key as a delivery receipt saying returned-letter: applied once.
        dedupe_key=f"receipt:{notification_id}:{RETURNED_LETTER}",
        provider_message_id=notification_id,
        channel=Channel.LETTER,
        status=status,
        provider_status=RETURNED_LETTER,
        failure_reason=failure_reason,
        occurred_at=None,
        reference=optional_str(fields, "reference"),
        created_at=_optional_time(fields, "date_sent", receiver),
        metadata=_extra_fields(fields, _RETURNED_LETTER_FIELDS),
    )


def _channel(notification_type: str) -> Channel:
    channel = NOTIFICATION_TYPES.get(notification_type.lower())
    if channel is None:
        raise PayloadRejected(
            f"unsupported notification_type {notification_type!r}: expected 'sms', 'email' or"
            " 'letter'"
        )
    return channel


def _optional_time(
    fields: Mapping[str, Any], key: str, receiver: ReceiverContext
) -> datetime | None:
    value = optional_str(fields, key)
    if value is None:
        return None
    return parse_timestamp(value, naive_zone=receiver.timezone, field=key)


def _extra_fields(fields: Mapping[str, Any], known: Collection[str]) -> dict[str, JSONValue]:
    """Fields a fork adds beyond the normalised ones (template_id, status_reason, ...)."""
    return {key: value for key, value in fields.items() if key not in known and value is not None}


# --- VA Notify's signature ------------------------------------------------------------------

VA_SIGNATURE_HEADER = "x-enp-signature"
_UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_WHOLE_API_KEY = re.compile(rf".+-{_UUID}-{_UUID}", re.IGNORECASE)


def load_va_notify_key(text: str) -> bytes:
    """The secret of the VA Notify API key the notifications are sent with."""
    key = text.strip()
    if not key:
        raise ValueError("the API key secret is empty")
    if any(char.isspace() for char in key) or not key.isprintable():
        raise ValueError("expected an API key secret without spaces")
    if _WHOLE_API_KEY.fullmatch(key):
        raise ValueError(
            "this is a whole API key (name-service id-secret): give only its secret, the last"
            " 36 characters"
        )
    return key.encode()


def va_notify_signed_bytes(body: bytes) -> bytes:
    """What VA Notify signs: ``urlencode`` of the callback's fields, in the order sent, each
    value as Python's ``str`` (``null`` is ``None``, ``true`` is ``True``)."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise SignatureRejected("body is not a JSON object: VA Notify signs the fields of one")
    try:
        return urlencode(document).encode()
    except (UnicodeEncodeError, ValueError):
        raise SignatureRejected("body holds text VA Notify could not have signed") from None


def verify_va_notify_signature(
    request: SignedRequest, keys: Sequence[SignatureKey], _: ReceiverContext, __: datetime
) -> None:
    # VA Notify signs no time: a captured callback can be replayed, and is then a duplicate.
    presented = required_header(request, VA_SIGNATURE_HEADER).lower()
    signed = va_notify_signed_bytes(request.body)
    require_match(keys, lambda key: hmac.new(key, signed, hashlib.sha256).hexdigest(), presented)


def sign_va_notify(
    request: SignedRequest, key: str, _: ReceiverContext, __: datetime
) -> SignedRequest:
    """The request as VA Notify sends a ``callback_url`` notification's callback."""
    signed = va_notify_signed_bytes(request.body)
    signature = hmac.new(load_va_notify_key(key), signed, hashlib.sha256).hexdigest()
    return SignedRequest(
        method=request.method,
        url=request.url,
        headers={**request.headers, VA_SIGNATURE_HEADER: signature},
        query_string=request.query_string,
        body=request.body,
        content_type=request.content_type,
    )


VA_NOTIFY_SIGNATURE = SignatureScheme(
    verify=verify_va_notify_signature,
    sign=sign_va_notify,
    key_kind="VA Notify API key secret",
    load_key=load_va_notify_key,
)


PROVIDER = Provider(
    name="notify",
    parse=parse,
    samples=(
        SamplePayload(
            description="Delivery receipt: e-mail delivered (GOV.UK Notify)",
            content_type="application/json",
            body=b"""{
    "id": "740e5834-3a29-46b4-9a6f-16142fde533a",
    "reference": "order-12345678",
    "to": "person@example.com",
    "status": "delivered",
    "notification_type": "email",
    "created_at": "2017-05-14T12:15:30.000000Z",
    "completed_at": "2017-05-14T12:15:32.000000Z",
    "sent_at": "2017-05-14T12:15:31.000000Z",
    "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
    "template_version": 3
}""",
        ),
        SamplePayload(
            description="Delivery receipt: text message temporary failure (GOV.UK Notify)",
            content_type="application/json",
            body=b"""{
    "id": "3d2c4b1a-8e4f-4f0e-9a51-6f2d1c0b9a87",
    "reference": null,
    "to": "07700900123",
    "status": "temporary-failure",
    "notification_type": "sms",
    "created_at": "2017-05-14T12:15:30.000000Z",
    "completed_at": "2017-05-17T12:15:30.000000Z",
    "sent_at": "2017-05-14T12:15:31.000000Z",
    "template_id": "a1b2c3d4-0000-4000-8000-000000000001",
    "template_version": 1
}""",
        ),
        SamplePayload(
            description="Inbound text message",
            content_type="application/json",
            body=b"""{
    "id": "8e222534-7f05-4972-86e3-17c5d9f894e2",
    "source_number": "+61412987654",
    "destination_number": "+61412345678",
    "message": "Hello Notify!",
    "date_received": "2017-05-14T12:15:30.000000Z"
}""",
        ),
        SamplePayload(
            description="E-mail complaint (recipient marked the e-mail as spam)",
            content_type="application/json",
            body=b"""{
    "notification_id": "740e5834-3a29-46b4-9a6f-16142fde533a",
    "complaint_id": "b0c6a9b4-6a8e-4a7c-9a1c-7d2f3e4a5b6c",
    "reference": "order-12345678",
    "to": "person@example.com",
    "complaint_date": "2017-05-15T09:01:12.000000Z"
}""",
        ),
        SamplePayload(
            description="Returned letter (GOV.UK Notify)",
            content_type="application/json",
            body=b"""{
    "notification_id": "2c1a0b9e-6f3d-4e8a-9b7c-5d4e3f2a1b0c",
    "reference": "letter-2024-0117",
    "date_sent": "2024-01-17T15:04:11.000000Z",
    "sent_by": "API",
    "template_name": "Appointment letter",
    "template_id": "8f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2918",
    "template_version": 2,
    "spreadsheet_file_name": null,
    "spreadsheet_row_number": null,
    "upload_letter_file_name": null
}""",
        ),
        SamplePayload(
            # VA Notify's "Delivery Status Callbacks" sample (department-of-veterans-affairs
            # /vets-api docs), verbatim: its own id, an empty "to" and "SMS" in capitals.
            description="Delivery receipt: text message delivered (VA Notify)",
            content_type="application/json",
            body=b"""{
  "id": "6ba01111-f3ee-4a45-9d04-234asdfb6abbb9a",
  "reference": null,
  "to": "",
  "status": "delivered",
  "created_at": "2023-01-10T00:04:25.273410Z",
  "completed_at": "2023-01-10T00:05:33.255911Z",
  "sent_at": "2023-01-10T00:04:25.775363Z",
  "notification_type": "SMS",
  "status_reason": "",
  "provider": "pinpoint"
}""",
        ),
        SamplePayload(
            description="Delivery receipt: text message to no such number (GC Notify)",
            content_type="application/json",
            body=b"""{
    "id": "0f6c2d7e-8a1b-4c3d-9e5f-a6b7c8d9e0f1",
    "reference": "rappel-42",
    "to": "+16135550123",
    "status": "permanent-failure",
    "status_description": "No such number",
    "provider_response": "Invalid phone number",
    "created_at": "2024-02-05T14:00:00.000000Z",
    "completed_at": "2024-02-05T14:00:09.000000Z",
    "sent_at": "2024-02-05T14:00:01.000000Z",
    "notification_type": "sms"
}""",
        ),
    ),
    default_timezone="UTC",
    # A British provider: national numbers in its callbacks are UK numbers.
    default_region="GB",
    signature=VA_NOTIFY_SIGNATURE,
)
