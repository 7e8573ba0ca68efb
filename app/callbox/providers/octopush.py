"""Octopush callbacks: delivery receipts, replies and STOP opt-outs, on one URL or three.

Octopush tells the three kinds apart only by which date field is present (field names are
matched case-insensitively, as older docs spell them in capitals):

- ``delivery_date`` (``DELIVERY_DATE``): a delivery receipt -> :class:`StatusReported`;
- ``reception_date`` (``answer_date`` in older docs): a reply or inbound SMS ->
  :class:`MessageReceived`;
- ``stop_date``: a STOP opt-out -> :class:`OptOutReported` with ``source="provider"``.

Both API generations are accepted: the current one posts JSON (ids like ``sms_5fa275dbf21dc``,
numbers like ``+33600000000``), the legacy one posted form-encoded bodies (ids like
``api110000000021``, numbers like ``0033601010101``). Dates are naive ``Y-m-d H:i:s`` and are
read in the receiver's timezone (Europe/Paris unless configured).

Identity: an Octopush ticket (``message_id``) names a campaign request that may go to many
recipients, so Callbox names one outbound message ``f"{message_id}:{e164 number}"``:

- receipt: ``provider_message_id = "{ticket}:{number}"``;
  ``dedupe_key = "receipt:{ticket}:{number}:{status}"``.
- reply: ``message_id`` is the ticket of our message being answered, so
  ``in_reply_to = "{ticket}:{sender}"`` (our message to that same person). The reply has no id
  of its own; ``provider_message_id = "{ticket}:{sender}:{reception date digits}:{text hash}"``
  (without ``{ticket}:`` when there is none), the same on every retry;
  ``dedupe_key = "inbound:{provider_message_id}"``.
- STOP: ``provider_message_id = "{ticket}:{number}"`` (the message answered with STOP, when a
  ticket is given); ``dedupe_key = "optout:{number}:{stop date digits}"``.

The email channel reports one ticket's recipients in a ``deliveries`` list; each becomes its own
receipt, named ``"{ticket}:{e-mail address}"``. ``OPENED`` and ``CLICKED`` are reports of kind
OPENED and CLICKED, as for every e-mail provider: kept in the message's history, its status
left as it is (docs/statuses.md, "E-mail").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from callbox.model.vocabulary import Channel, FailureReason, ReportKind, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
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
    decode_form,
    decode_json_object,
    fold_keys,
    is_json,
    optional_str,
    parse_timestamp,
    required_str,
    text_value,
)

Fields = Mapping[str, Any]

# dev.octopush.com "Acknowledge receipt" and "Voice SMS acknowledge receipt" pages, plus the
# legacy API's statuses and the other channels' list (octopush-api.readme.io callbacks-statuses).
DELIVERY_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "ACK": (Status.SENT, None),  # acknowledged by the first carrier, not yet by the handset
    "DELIVERED": (Status.DELIVERED, None),
    "NOT_DELIVERED": (Status.FAILED, FailureReason.UNKNOWN),  # no cause given
    "NOT_ALLOWED": (Status.FAILED, FailureReason.BLOCKED),
    "UNKNOWN_DELIVERY": (Status.UNKNOWN, None),  # the carrier never said
    "BAD_DESTINATION": (Status.FAILED, FailureReason.INVALID_RECIPIENT),
    "BLACKLISTED_NUMBER": (Status.FAILED, FailureReason.BLOCKED),  # on the STOP list
    "UNDEFINED": (Status.UNKNOWN, None),
    # Voice.
    "NOT_DELIVERABLE": (Status.FAILED, FailureReason.PERMANENT),
    "BUSY": (Status.FAILED, FailureReason.TEMPORARY),
    "REFUSED": (Status.FAILED, FailureReason.TEMPORARY),  # call declined; a later one may not be
    # Legacy API.
    "INVALID_DESTINATION_ADDRESS": (Status.FAILED, FailureReason.INVALID_RECIPIENT),
    "OUT_OF_DATE": (Status.FAILED, FailureReason.EXPIRED),
    "EXPIRED": (Status.FAILED, FailureReason.EXPIRED),
    # Other channels (RCS, WhatsApp, e-mail): reading implies delivery; so do opening and
    # clicking, which are reports of their own (REPORT_KINDS) and change no status.
    "READ": (Status.DELIVERED, None),
    "OPENED": (Status.DELIVERED, None),
    "CLICKED": (Status.DELIVERED, None),
    "TRANSMITTED": (Status.SENT, None),  # "received by Email Gateway"
    "ISP_SEND": (Status.SENT, None),  # "sent to the ISP"
    "PROCESSED": (Status.PENDING, None),  # "queued"
}

REPORT_KINDS: dict[str, ReportKind] = {
    # E-mail engagement, as every e-mail provider's: kept in the message's history (first
    # open and click on the message), the status left as it is.
    "OPENED": ReportKind.OPENED,
    "CLICKED": ReportKind.CLICKED,
}

# Checked in this order: the most specific kind first, should a body carry several dates.
DATE_FIELDS = ("stop_date", "reception_date", "answer_date", "delivery_date")

METADATA_FIELDS = (
    "channel",
    "list_name",
    "unit_price",
    "meta_data",
    "pressed_keys_code",
    "call_duration",
    "charged_duration",
    "status_history",
)

_NON_DIGITS = re.compile(r"\D")


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    fields = decode_octopush_fields(request)
    match callback_kind(fields):
        case "stop_date":
            return [parse_opt_out(fields, receiver)]
        case "reception_date" | "answer_date" as date_field:
            return [parse_reply(fields, date_field, receiver)]
        case _:
            return list(parse_delivery_receipts(fields, receiver))


def decode_octopush_fields(request: InboundRequest) -> dict[str, Any]:
    """The callback's fields, lower-cased: a JSON object (current API) or a form (legacy)."""
    if not request.body.strip():
        raise PayloadRejected("empty body: expected a JSON object or a form-encoded body")
    if is_json(request):
        return fold_keys(decode_json_object(request.body))
    return fold_keys(decode_form(request.body))


def callback_kind(fields: Fields) -> str:
    """The date field that says which callback this is."""
    present = [name for name in DATE_FIELDS if name in fields]
    if not present:
        if "deliveries" in fields:
            return "delivery_date"  # e-mail receipts carry their dates per recipient
        expected = ", ".join(repr(name) for name in DATE_FIELDS)
        raise PayloadRejected(f"not an Octopush callback: expected one of the fields {expected}")
    filled = [name for name in present if optional_str(fields, name) is not None]
    return (filled or present)[0]


def map_delivery_status(value: str) -> tuple[Status, FailureReason | None]:
    return DELIVERY_STATUSES.get(value.strip().upper(), (Status.UNKNOWN, None))


def map_channel(value: str | None) -> Channel:
    """``sms``/absent -> SMS, anything voice -> VOICE, e-mail -> EMAIL, other phone channels SMS."""
    text = (value or "").lower()
    if "voice" in text:
        return Channel.VOICE
    if "mail" in text:
        return Channel.EMAIL
    return Channel.SMS


def parse_delivery_receipts(fields: Fields, receiver: ReceiverContext) -> list[StatusReported]:
    ticket = required_str(fields, "message_id")
    deliveries = fields.get("deliveries")
    if deliveries is None or "number" in fields:
        return [parse_delivery_receipt(ticket, fields, fields, receiver)]
    if not isinstance(deliveries, list) or not all(isinstance(item, dict) for item in deliveries):
        raise PayloadRejected("'deliveries' must be a list of objects")
    return [
        parse_delivery_receipt(ticket, fold_keys(item), fields, receiver) for item in deliveries
    ]


def parse_delivery_receipt(
    ticket: str, delivery: Fields, callback: Fields, receiver: ReceiverContext
) -> StatusReported:
    """One recipient's receipt; ``delivery`` is the callback itself except for e-mail lists."""
    address_field = "number" if optional_str(delivery, "number") is not None else "email"
    raw_address = optional_str(delivery, address_field)
    if raw_address is None:
        raise PayloadRejected("missing required field 'number'")
    recipient = normalise_octopush_address(raw_address, receiver.default_region, address_field)
    provider_status = required_str(delivery, "status")
    status, failure_reason = map_delivery_status(provider_status)
    raw_date = optional_str(delivery, "delivery_date") or required_str(callback, "delivery_date")
    provider_message_id = f"{ticket}:{recipient}"
    return StatusReported(
        dedupe_key=f"receipt:{provider_message_id}:{provider_status}",
        provider_message_id=provider_message_id,
        channel=map_channel(optional_str(callback, "channel")),
        status=status,
        provider_status=provider_status,
        failure_reason=failure_reason,
        occurred_at=parse_timestamp(raw_date, naive_zone=receiver.timezone, field="delivery_date"),
        recipient=recipient,
        metadata=collect_metadata(callback, delivery),
        kind=REPORT_KINDS.get(provider_status.strip().upper(), ReportKind.STATUS),
    )


def parse_reply(fields: Fields, date_field: str, receiver: ReceiverContext) -> MessageReceived:
    ticket = optional_str(fields, "message_id")
    sender = normalise_octopush_address(
        required_str(fields, "number"), receiver.default_region, "number"
    )
    our_number = optional_str(fields, "sim_card_number")
    raw_date = required_str(fields, date_field)
    occurred_at = parse_timestamp(raw_date, naive_zone=receiver.timezone, field=date_field)
    text = message_text(fields)
    text_hash = hashlib.sha256((text or "").encode()).hexdigest()[:12]
    reply_id = f"{sender}:{_digits(raw_date)}:{text_hash}"
    if ticket is not None:
        reply_id = f"{ticket}:{reply_id}"
    return MessageReceived(
        dedupe_key=f"inbound:{reply_id}",
        provider_message_id=reply_id,
        channel=map_channel(optional_str(fields, "channel")),
        sender=sender,
        recipient=(
            normalise_octopush_address(our_number, receiver.default_region, "sim_card_number")
            if our_number
            else None
        ),
        body=text,
        occurred_at=occurred_at,
        in_reply_to=f"{ticket}:{sender}" if ticket is not None else None,
        metadata=collect_metadata(fields),
    )


def parse_opt_out(fields: Fields, receiver: ReceiverContext) -> OptOutReported:
    ticket = optional_str(fields, "message_id")
    number = normalise_octopush_address(
        required_str(fields, "number"), receiver.default_region, "number"
    )
    raw_date = required_str(fields, "stop_date")
    return OptOutReported(
        dedupe_key=f"optout:{number}:{_digits(raw_date)}",
        address=number,
        channel=map_channel(optional_str(fields, "channel")),
        occurred_at=parse_timestamp(raw_date, naive_zone=receiver.timezone, field="stop_date"),
        source="provider",
        provider_message_id=f"{ticket}:{number}" if ticket is not None else None,
        text=message_text(fields),
    )


def normalise_octopush_address(value: str, default_region: str | None, field: str) -> str:
    text = value.strip()
    # Legacy numbers carry the 00 international prefix (0033601010101), whatever the region.
    if text.startswith("00") and text[2:].isdigit():
        text = "+" + text[2:]
    return address(text, default_region, field=field)


def message_text(fields: Fields) -> str | None:
    """The SMS text as sent (not stripped); ``None`` when the field is absent."""
    return text_value(fields, "text")


def collect_metadata(*sources: Fields) -> dict[str, Any]:
    """Channel, list, price and voice details; later sources win (an e-mail recipient's own)."""
    metadata: dict[str, Any] = {}
    for source in sources:
        for name in METADATA_FIELDS:
            if source.get(name) is not None:
                metadata[name] = source[name]
    return metadata


def _digits(value: str) -> str:
    """``2020-11-04 11:11:45`` -> ``20201104111145``: stable whatever the receiver's timezone."""
    return _NON_DIGITS.sub("", value)


PROVIDER = Provider(
    name="octopush",
    parse=parse,
    samples=(
        SamplePayload(
            description="SMS delivery receipt (current API, JSON)",
            content_type="application/json",
            body=(
                b'{"channel": "sms", "message_id": "sms_5fa275dbf21dc", "list_name": "Clients",'
                b' "number": "+33639981234", "status": "DELIVERED", "unit_price": 0.045,'
                b' "delivery_date": "2024-03-15 10:31:02", "meta_data": {}}'
            ),
        ),
        SamplePayload(
            description="Reply to a campaign (current API, JSON)",
            content_type="application/json",
            body=(
                b'{"message_id": "sms_5fa275dbf21dc", "number": "+33639981234",'
                b' "text": "Oui, je confirme le rendez-vous", "sim_card_number": "+33639980001",'
                b' "reception_date": "2024-03-15 10:42:17"}'
            ),
        ),
        SamplePayload(
            description="STOP opt-out (current API, JSON)",
            content_type="application/json",
            body=(
                b'{"message_id": "sms_5fa275dbf21dc", "number": "+33639981234",'
                b' "text": "STOP", "stop_date": "2024-03-15 10:45:00"}'
            ),
        ),
        SamplePayload(
            description="SMS delivery receipt (legacy API, form-encoded)",
            content_type="application/x-www-form-urlencoded",
            body=(
                b"message_id=api110000000021&number=0033639981234&status=DELIVERED"
                b"&DELIVERY_DATE=2024-03-15+10%3A31%3A02"
            ),
        ),
    ),
    default_timezone="Europe/Paris",
    default_region="FR",
)
