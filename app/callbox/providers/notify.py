"""GOV.UK Notify callbacks (and its AU, CA, US and VA forks): receipts, inbound SMS, complaints.

Notify posts one JSON object per callback and says nothing about its kind, so the kind is
told from the fields present: ``complaint_id`` (an e-mail complaint), ``source_number`` (an
inbound SMS) or ``status``/``notification_type`` (a delivery receipt). Fields a fork adds
(``template_id``, ``status_reason``, ``provider``, ``provider_payload``, ...) are kept in
the event's metadata.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

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

NOTIFY_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    # Forks only: accepted by Notify, not yet handed to a carrier.
    "created": (Status.PENDING, None),
    # Handed to the SMS/e-mail provider, which has not yet reported delivery.
    "sending": (Status.SENT, None),
    "pending": (Status.SENT, None),
    # GOV.UK "sent internationally": the network gives no further delivery information.
    "sent": (Status.SENT, None),
    "delivered": (Status.DELIVERED, None),
    # GOV.UK: the address or number does not exist or the network rejected the message.
    "permanent-failure": (Status.FAILED, FailureReason.PERMANENT),
    # GOV.UK: inbox full or phone off for too long; sending again later may work.
    "temporary-failure": (Status.FAILED, FailureReason.TEMPORARY),
    "technical-failure": (Status.FAILED, FailureReason.TECHNICAL),
    # VA fork: a failure whose cause is only in status_reason.
    "failed": (Status.FAILED, FailureReason.UNKNOWN),
}

NOTIFICATION_TYPES: dict[str, Channel] = {"sms": Channel.SMS, "email": Channel.EMAIL}

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

_EXPECTED_KINDS = (
    "expected a Notify delivery receipt (id, status, notification_type, to), "
    "an inbound SMS (id, source_number, destination_number, message, date_received) "
    "or an e-mail complaint (complaint_id, notification_id, to, complaint_date)"
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
    if "status" in fields or "notification_type" in fields:
        return [parse_delivery_receipt(fields, receiver)]
    keys = ", ".join(sorted(fields)) or "none"
    raise PayloadRejected(f"unrecognised Notify callback (fields: {keys}): {_EXPECTED_KINDS}")


def parse_delivery_receipt(fields: Mapping[str, Any], receiver: ReceiverContext) -> StatusReported:
    notification_id = required_str(fields, "id")
    provider_status = required_str(fields, "status")
    channel = _channel(required_str(fields, "notification_type"))
    status, failure_reason = map_notify_status(provider_status)
    created_at = _optional_time(fields, "created_at", receiver)
    sent_at = _optional_time(fields, "sent_at", receiver)
    completed_at = _optional_time(fields, "completed_at", receiver)
    to = optional_str(fields, "to")
    return StatusReported(
        dedupe_key=f"receipt:{notification_id}:{provider_status}",
        provider_message_id=notification_id,
        channel=channel,
        status=status,
        provider_status=provider_status,
        failure_reason=failure_reason,
        # completed_at is "the last time the status was updated", i.e. when this status took
        # effect; it is null until then, and sent_at/created_at are the earlier steps' times.
        occurred_at=completed_at or sent_at or created_at,
        recipient=address(to, receiver.default_region, field="to") if to else None,
        reference=optional_str(fields, "reference"),
        created_at=created_at,
        sent_at=sent_at,
        metadata=_extra_fields(fields, _RECEIPT_FIELDS),
    )


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


def _channel(notification_type: str) -> Channel:
    channel = NOTIFICATION_TYPES.get(notification_type.lower())
    if channel is None:
        raise PayloadRejected(
            f"unsupported notification_type {notification_type!r}: expected 'sms' or 'email'"
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
    ),
    default_timezone="UTC",
    # A British provider: national numbers in its callbacks are UK numbers.
    default_region="GB",
)
