"""Telnyx messaging webhooks (API v2): inbound messages and per-recipient delivery statuses.

Telnyx posts one JSON event per request: ``{"data": {"event_type", "id", "occurred_at",
"payload": {...}}, "meta": {"attempt", "delivered_to"}}``, retried with the same ``data``
(``meta.attempt`` counts the tries). These event types concern messages:

- ``message.received``: an inbound SMS/MMS -> :class:`MessageReceived`;
- ``message.sent``, ``message.finalized`` and (RCS) ``message.read``: our outbound
  message's progress -> one :class:`StatusReported` per recipient in ``payload.to`` (and
  ``payload.cc`` for group MMS), each with its own ``status``. ``from`` is an object
  (``{"phone_number": ...}``) in v2, a plain string in one migration-guide example, an RCS
  agent (``{"agent_id", "agent_name"}``, named by its id) for RCS; all are read. RCS nests
  the text in ``body.text``.

Identity: ``payload.id`` is the message's id. A message to one recipient is named by it; a
group message's recipients are named ``f"{id}:{e164 number}"`` each. Dedupe keys:
``inbound:{id}``, ``status:{id}:{number}:{status}``. API v1 webhooks (``sms_id``, signed with
HMAC) are refused with a reason: set the messaging profile's webhook API version to 2.

Signatures: ``telnyx-signature-ed25519`` (base64, 64 bytes) is Ed25519 over
``f"{telnyx-timestamp}|{raw body}"`` with the account's key pair; Callbox holds the public
key (base64, 32 bytes, from the Mission Control portal) and refuses a timestamp more than
300 s from now (team-telnyx/telnyx-python ``lib/webhook_verification.py``). Keys are public
keys, so Callbox cannot sign: ``sign`` is ``None``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
    JSONValue,
    MessageReceived,
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
    json_kind,
    optional_str,
    parse_timestamp,
    text_value,
)
from callbox.providers.signatures import (
    MISMATCH,
    require_within_window,
    required_header,
    unix_time,
)

Fields = Mapping[str, Any]

SIGNATURE_HEADER = "telnyx-signature-ed25519"
TIMESTAMP_HEADER = "telnyx-timestamp"
PUBLIC_KEY_BYTES = 32
SIGNATURE_BYTES = 64

# to[].status (telnyx-python outbound_message_payload.py; descriptions from the Telnyx
# messaging docs). Matched case-insensitively; the raw word is kept.
TELNYX_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "queued": (Status.PENDING, None),  # queued at Telnyx
    "sending": (Status.PENDING, None),  # being handed to the carrier
    "sent": (Status.SENT, None),  # handed to the carrier, no receipt yet
    "delivered": (Status.DELIVERED, None),
    "read": (Status.DELIVERED, None),  # RCS: reading implies delivery
    "delivery_unconfirmed": (Status.UNKNOWN, None),  # final, but the carrier never said
    "sending_failed": (Status.FAILED, FailureReason.TECHNICAL),  # Telnyx could not hand it on
    "delivery_failed": (Status.FAILED, FailureReason.UNKNOWN),  # the cause is in errors[]
    "expired": (Status.FAILED, FailureReason.EXPIRED),
}

# errors[].code of a failed message (developers.telnyx.com messaging error codes): a cause
# Callbox has a word for sharpens the status word's reason; other codes keep it.
TELNYX_ERROR_REASONS: dict[str, FailureReason] = {
    "40001": FailureReason.INVALID_RECIPIENT,  # not routable: a landline or no SMS
    "40002": FailureReason.BLOCKED,  # spam filter, temporary
    "40003": FailureReason.BLOCKED,  # spam filter, permanent
    "40005": FailureReason.EXPIRED,
    "40006": FailureReason.TEMPORARY,  # the recipient's carrier is unavailable
    "40011": FailureReason.BLOCKED,  # upstream rate limit, flagged as spam
    "40012": FailureReason.INVALID_RECIPIENT,
    "40014": FailureReason.EXPIRED,  # expired in queue
    "40015": FailureReason.BLOCKED,  # Telnyx's own spam filter
    "40300": FailureReason.BLOCKED,  # the recipient sent STOP
}

MESSAGE_RECEIVED = "message.received"
# message.read: RCS read receipts (developers.telnyx.com "Receiving RCS webhooks").
STATUS_EVENTS = frozenset({"message.sent", "message.finalized", "message.read"})

# Payload fields kept in metadata when present and not empty.
METADATA_FIELDS = (
    "type",
    "subject",
    "media",
    "errors",
    "cost",
    "parts",
    "encoding",
    "tags",
    "messaging_profile_id",
    "organization_id",
    "valid_until",
)


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    document = decode_json_object(request.body)
    data = document.get("data")
    if not isinstance(data, dict):
        if "sms_id" in document:
            raise PayloadRejected(
                "Telnyx API v1 webhook (sms_id): Callbox reads API v2; set the messaging"
                " profile's webhook API version to 2"
            )
        raise PayloadRejected("not a Telnyx webhook: expected an object 'data'")
    event_type = required_field(data, "event_type", "data")
    payload = data.get("payload")
    if not isinstance(payload, dict):
        raise PayloadRejected("missing required object 'data.payload'")
    if event_type == MESSAGE_RECEIVED:
        return [parse_inbound_message(data, payload, receiver)]
    if event_type in STATUS_EVENTS:
        return list(parse_delivery_statuses(data, payload, receiver))
    raise PayloadRejected(
        f"unsupported Telnyx event_type {event_type!r}: expected message.received,"
        " message.sent, message.finalized or message.read"
    )


def parse_inbound_message(
    data: Fields, payload: Fields, receiver: ReceiverContext
) -> MessageReceived:
    message_id = required_field(payload, "id", "data.payload")
    sender = party_address(payload.get("from"), "data.payload.from", receiver)
    if sender is None:
        raise PayloadRejected("missing required field 'data.payload.from' (a phone number)")
    recipients = recipient_entries(payload, "to")
    return MessageReceived(
        dedupe_key=f"inbound:{message_id}",
        provider_message_id=message_id,
        channel=Channel.SMS,
        sender=sender,
        recipient=party_address(recipients[0], "data.payload.to[0]", receiver)
        if recipients
        else None,
        body=message_text(payload),
        occurred_at=optional_time(payload, "received_at", receiver)
        or optional_time(data, "occurred_at", receiver),
        metadata=collect_metadata(data, payload),
    )


def parse_delivery_statuses(
    data: Fields, payload: Fields, receiver: ReceiverContext
) -> list[StatusReported]:
    message_id = required_field(payload, "id", "data.payload")
    recipients = [
        (f"data.payload.{key}[{index}]", entry)
        for key in ("to", "cc")
        for index, entry in enumerate(recipient_entries(payload, key))
    ]
    if not recipients:
        raise PayloadRejected("'data.payload.to' lists no recipient")
    sender = party_address(payload.get("from"), "data.payload.from", receiver)
    occurred_at = optional_time(data, "occurred_at", receiver)
    created_at = optional_time(payload, "received_at", receiver)
    sent_at = optional_time(payload, "sent_at", receiver)
    completed_at = optional_time(payload, "completed_at", receiver)
    error_code = first_error_code(payload)
    text = message_text(payload)
    metadata = collect_metadata(data, payload)
    events = []
    for where, entry in recipients:
        number = address(
            required_field(entry, "phone_number", where),
            receiver.default_region,
            field=f"{where}.phone_number",
        )
        provider_status = required_field(entry, "status", where)
        status, failure_reason = map_telnyx_status(provider_status, error_code)
        # One recipient: the message is Telnyx's message; a group message, one per recipient.
        name = message_id if len(recipients) == 1 else f"{message_id}:{number}"
        events.append(
            StatusReported(
                dedupe_key=f"status:{message_id}:{number}:{provider_status}",
                provider_message_id=name,
                channel=Channel.SMS,
                status=status,
                provider_status=provider_status,
                failure_reason=failure_reason,
                occurred_at=occurred_at or completed_at or sent_at or created_at,
                recipient=number,
                sender=sender,
                body=text,
                created_at=created_at,
                sent_at=sent_at,
                metadata={**metadata, **carrier_details(entry)},
            )
        )
    return events


def map_telnyx_status(
    value: str, error_code: str | None = None
) -> tuple[Status, FailureReason | None]:
    """A recipient's status word (and the message's first error code) to Callbox's status."""
    status, reason = TELNYX_STATUSES.get(value.strip().lower(), (Status.UNKNOWN, None))
    if status is Status.FAILED and error_code in TELNYX_ERROR_REASONS:
        reason = TELNYX_ERROR_REASONS[error_code]
    return status, reason


def required_field(fields: Fields, key: str, where: str) -> str:
    value = optional_str(fields, key)
    if value is None:
        raise PayloadRejected(f"missing required field '{where}.{key}'")
    return value


def recipient_entries(payload: Fields, key: str) -> list[Fields]:
    """``payload.to`` / ``payload.cc``: a list of objects (absent or null: none)."""
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise PayloadRejected(
            f"'data.payload.{key}' must be a list of objects, got a JSON {json_kind(value)}"
        )
    return value


def party_address(value: Any, where: str, receiver: ReceiverContext) -> str | None:
    """A sender or recipient: ``{"phone_number": ...}`` (API v2), a plain string (an older
    example's ``from``), or an RCS agent ``{"agent_id", "agent_name"}`` (named by its id)."""
    if isinstance(value, dict):
        text = optional_str(value, "phone_number") or optional_str(value, "agent_id")
    elif isinstance(value, str):
        text = value.strip() or None
    elif value is None:
        return None
    else:
        raise PayloadRejected(
            f"'{where}': expected an object or text, got a JSON {json_kind(value)}"
        )
    return address(text, receiver.default_region, field=where) if text else None


def message_text(payload: Fields) -> str | None:
    """``text`` for SMS/MMS; RCS nests it as ``body.text``."""
    text = text_value(payload, "text")
    body = payload.get("body")
    if text is None and isinstance(body, dict):
        text = text_value(body, "text")
    return text


def first_error_code(payload: Fields) -> str | None:
    errors = payload.get("errors")
    if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
        return None
    return optional_str(errors[0], "code")


def carrier_details(entry: Fields) -> dict[str, JSONValue]:
    """The recipient's carrier and line type, as Telnyx looked them up."""
    return {key: entry[key] for key in ("carrier", "line_type") if entry.get(key)}


def collect_metadata(data: Fields, payload: Fields) -> dict[str, JSONValue]:
    metadata: dict[str, JSONValue] = {
        name: payload[name] for name in METADATA_FIELDS if payload.get(name) not in (None, "", [])
    }
    if isinstance(payload.get("body"), dict):
        metadata["body"] = payload["body"]  # RCS: text, file, location or suggestion
    if data.get("id") is not None:
        metadata["event_id"] = data["id"]
    return metadata


def optional_time(fields: Fields, key: str, receiver: ReceiverContext) -> datetime | None:
    value = optional_str(fields, key)
    if value is None:
        return None
    return parse_timestamp(value, naive_zone=receiver.timezone, field=key)


# --- Signatures ---------------------------------------------------------------------------


def load_public_key(text: str) -> Ed25519PublicKey:
    """The base64 public key from the Telnyx portal; ``ValueError`` naming the problem."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise ValueError("not base64 (copy the public key from the Telnyx portal)") from None
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError(f"expected {PUBLIC_KEY_BYTES} bytes once decoded, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    context: ReceiverContext,
    now: datetime,
) -> None:
    """Ed25519 over ``timestamp|raw body`` with any of ``keys``, within 300 s of ``now``."""
    signature_text = required_header(request, SIGNATURE_HEADER)
    timestamp = required_header(request, TIMESTAMP_HEADER)
    signed_at = unix_time(timestamp, TIMESTAMP_HEADER)
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise SignatureRejected(f"{SIGNATURE_HEADER} is not base64") from None
    if len(signature) != SIGNATURE_BYTES:
        raise SignatureRejected(f"{SIGNATURE_HEADER} is not a {SIGNATURE_BYTES}-byte signature")
    # Headers reach us decoded as Latin-1: encoding back gives the bytes Telnyx signed.
    signed = timestamp.encode("latin-1") + b"|" + request.body
    verified = False
    for key in keys:  # every key is tried: a rotated key verifies as well as the first
        verified |= _verifies(key, signature, signed)
    if not verified:
        raise SignatureRejected(MISMATCH)
    require_within_window(signed_at, now)


def _verifies(key: Ed25519PublicKey, signature: bytes, signed: bytes) -> bool:
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        return False
    return True


SIGNATURE = SignatureScheme(
    verify=verify_signature,
    sign=None,  # the keys are public keys: only Telnyx holds the private key
    key_kind="Telnyx public key (base64 Ed25519)",
    load_key=load_public_key,
)

# developers.telnyx.com: the API reference's inbound message, the "Messaging migration"
# guide's message.sent (where `from` is a string), "Receiving RCS webhooks"' delivery receipt.
SAMPLES = (
    SamplePayload(
        description="Inbound SMS (message.received)",
        content_type="application/json",
        body=b"""{
  "data": {
    "record_type": "event",
    "id": "bf6307bd-884d-4c1f-b6ea-c62b8c495d3c",
    "event_type": "message.received",
    "occurred_at": "2019-01-23T18:10:02.574Z",
    "payload": {
      "record_type": "message",
      "direction": "inbound",
      "id": "7ee4241c-f127-47e5-9c34-3aac291f8058",
      "type": "SMS",
      "messaging_profile_id": "0f512bda-ae1e-4597-8e11-e5f5686b97d3",
      "organization_id": "b448f9cc-a842-4784-98e9-03c1a5872950",
      "from": {"phone_number": "+18665550001", "carrier": "T-MOBILE USA, INC.",
               "line_type": "Wireless"},
      "to": [{"phone_number": "+18445550001", "status": "delivered", "carrier": "TELNYX LLC",
              "line_type": "VoIP"}],
      "cc": [],
      "text": "Hello, World!",
      "subject": "From Telnyx!",
      "media": [],
      "webhook_url": "https://www.example.com/hooks",
      "webhook_failover_url": "https://backup.example.com/hooks",
      "encoding": "GSM-7",
      "parts": 1,
      "tags": ["Greetings"],
      "cost": {"amount": "0.0051", "currency": "USD"},
      "tcr_campaign_id": "TCPA3X7"
    }
  }
}""",
    ),
    SamplePayload(
        description="Outbound SMS sent to the carrier (message.sent, `from` as a string)",
        content_type="application/json",
        body=b"""{
  "data": {
    "record_type": "event",
    "event_type": "message.sent",
    "id": "1f1243a9-93a5-48d1-bf4b-d680b03565a0",
    "occurred_at": "2020-04-30T20:58:39.421+00:00",
    "payload": {
      "id": "403171cc-e25d-45cc-96b2-f3c54cfc3747",
      "record_type": "message",
      "type": "SMS",
      "to": [
        {"carrier": "OMNIPOINT COMMUNICATIONS MIDWEST OPERATIONS LLC", "line_type": "Wireless",
         "phone_number": "+18005550199", "status": "sent"}
      ],
      "from": "+18005550100",
      "text": "Hello, World!",
      "completed_at": null,
      "cost": null,
      "direction": "outbound",
      "encoding": "GSM-7",
      "media": [],
      "parts": 1,
      "tags": [],
      "webhook_url": "https://hookb.in/G9J9pghfoeZJcpadWdQoxm",
      "webhook_failover_url": "",
      "valid_until": "2020-04-30T21:58:39.342+00:00",
      "sent_at": "2020-04-30T20:58:39.421+00:00",
      "received_at": "2020-04-30T20:58:39.342+00:00",
      "messaging_profile_id": "3edefe37-7f02-4b71-b2a6-64a65ac29e8d",
      "organization_id": "d63fjl62-0003-4dab-7832-29b7b22628d8",
      "errors": []
    }
  },
  "meta": {"attempt": 1, "delivered_to": "https://hookb.in/G9J9pghfoeZJcpadWdQoxm"}
}""",
    ),
    SamplePayload(
        description="Outbound RCS message delivered (message.finalized, `from` an RCS agent)",
        content_type="application/json",
        body=b"""{
  "data": {
    "event_type": "message.finalized",
    "id": "4ee8c3a6-4995-4309-a3c6-38e3db9ea4be",
    "occurred_at": "2024-12-09T21:32:14.148+00:00",
    "payload": {
      "body": {
        "text": "Hello there!"
      },
      "completed_at": "2024-12-09T21:32:14.148+00:00",
      "cost": null,
      "direction": "outbound",
      "errors": [],
      "from": {
        "agent_id": "e4448a5c0670c2a9",
        "agent_name": "My RCS Agent"
      },
      "id": "ac012cbf-5e09-46af-a69a-7c0e2d90993c",
      "messaging_profile_id": "83d2343b-553f-4c5f-b8c8-fd27004f94bf",
      "organization_id": "9d76d591-1b7d-405d-8c64-1320ee070245",
      "received_at": "2024-12-09T21:32:13.552+00:00",
      "record_type": "message",
      "sent_at": "2024-12-09T21:32:13.596+00:00",
      "tags": [],
      "to": [
        {
          "carrier": "T-MOBILE USA, INC.",
          "line_type": "Wireless",
          "phone_number": "+13125000000",
          "status": "delivered"
        }
      ],
      "type": "RCS",
      "valid_until": "2024-12-09T22:32:13.552+00:00",
      "webhook_failover_url": "",
      "webhook_url": "http://webhook.site/af3a92e7-e150-442c-9fe6-61658ce26b1a"
    },
    "record_type": "event"
  },
  "meta": {
    "attempt": 1,
    "delivered_to": "http://webhook.site/af3a92e7-e150-442c-9fe6-61658ce26b1a"
  }
}""",
    ),
)

PROVIDER = Provider(
    name="telnyx",
    parse=parse,
    samples=SAMPLES,
    default_timezone="UTC",
    signature=SIGNATURE,
)
