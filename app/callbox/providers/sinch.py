"""Sinch SMS (XMS REST API) callbacks: inbound messages and delivery reports, signed with HMAC.

Sinch posts one JSON object per callback; its ``type`` says what it is:

- ``mo_text``, ``mo_binary``, ``mo_media``: an inbound SMS or MMS -> :class:`MessageReceived`
  (``body`` is the text; base64 with a hex ``udh`` for binary, an object with ``message``,
  ``subject`` and ``media`` for MMS);
- ``delivery_report_sms`` / ``_mms``: a batch report. ``statuses[]`` gives a status, a
  ``code`` and a ``count``, and in a full report the ``recipients`` too: each recipient
  becomes a :class:`StatusReported`. A summary report names no recipient, so it gives no
  event (it is stored like every request);
- ``recipient_delivery_report_sms`` / ``_mms``: one recipient's status -> one
  :class:`StatusReported`.

Status words arrive capitalised in payloads (``Delivered``) and in capitals in the SDKs
(``DELIVERED``): matched case-insensitively, the raw word kept. ``code`` is an integer or a
string. Numbers are MSISDNs in international format without ``+`` (``12025550134``).

Identity: a batch (``batch_id``) may go to many recipients, so one outbound message is named
``f"{batch_id}:{e164 number}"``; inbound messages by their ``id``. Dedupe keys:
``inbound:{id}``, ``status:{batch_id}:{number}:{STATUS}`` (a full batch report and a
recipient report saying the same thing are one event).

Signatures (Sinch "callback signing"; sinch-sdk-python ``validate_sinch_event_signature_with_
nonce``, sinch-sdk-dotnet ``HmacAuthenticationValidation``): ``x-sinch-webhook-signature`` is
base64 HMAC over ``raw body + "." + nonce + "." + timestamp`` with the callback secret, the
hash named by ``x-sinch-webhook-signature-algorithm`` (``HmacSHA256``; the .NET SDK also
accepts ``HmacSHA384`` and ``HmacSHA512``; absent: SHA-256, as the Python SDK assumes). The
timestamp (unix seconds) must be within 300 s of now.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    InboundRequest,
    JSONValue,
    MessageReceived,
    NotApplied,
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
from callbox.providers.payloads import (
    address,
    decode_json_object,
    json_kind,
    optional_str,
    parse_timestamp,
    required_str,
    text_value,
)
from callbox.providers.signatures import (
    require_match,
    require_within_window,
    required_header,
    unix_time,
)

Fields = Mapping[str, Any]

SIGNATURE_HEADER = "x-sinch-webhook-signature"
NONCE_HEADER = "x-sinch-webhook-signature-nonce"
TIMESTAMP_HEADER = "x-sinch-webhook-signature-timestamp"
ALGORITHM_HEADER = "x-sinch-webhook-signature-algorithm"
DEFAULT_ALGORITHM = "HmacSHA256"

HashFactory = Callable[[], Any]
SIGNATURE_ALGORITHMS: dict[str, HashFactory] = {
    "hmacsha256": hashlib.sha256,
    "hmacsha384": hashlib.sha384,
    "hmacsha512": hashlib.sha512,
}

# Sinch "Delivery report statuses" (developers.sinch.com), SDK enum DeliveryStatusType.
SINCH_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "QUEUED": (Status.PENDING, None),  # queued at Sinch, dispatched at the account's rate
    "DISPATCHED": (Status.SENT, None),  # accepted for delivery by the SMSC
    "DELIVERED": (Status.DELIVERED, None),
    "FAILED": (Status.FAILED, FailureReason.UNKNOWN),  # the cause is in `code`
    "ABORTED": (Status.FAILED, FailureReason.UNKNOWN),  # stopped before the SMSC; see `code`
    "REJECTED": (Status.FAILED, FailureReason.UNKNOWN),  # rejected by the SMSC
    "EXPIRED": (Status.FAILED, FailureReason.EXPIRED),
    # Deleted by a remote SMSC: "the destination is an invalid MSISDN or opted out".
    "DELETED": (Status.FAILED, FailureReason.PERMANENT),
    "CANCELLED": (Status.FAILED, FailureReason.UNKNOWN),  # cancelled by us before the SMSC
    "UNKNOWN": (Status.UNKNOWN, None),  # handed to the SMSC, no receipt came back
}

# Sinch's own 4xx delivery report codes (developers.sinch.com "Delivery report error codes"):
# a cause Callbox has a word for sharpens a failure's reason; other codes keep it.
SINCH_CODE_REASONS: dict[int, FailureReason] = {
    402: FailureReason.PERMANENT,  # unroutable: retrying is likely to fail the same way
    403: FailureReason.TECHNICAL,  # internal error
    404: FailureReason.TEMPORARY,  # temporary delivery failure: may be retried
    406: FailureReason.EXPIRED,  # expired before reaching the SMSC
    408: FailureReason.PERMANENT,  # rejected: retrying is likely to fail the same way
    412: FailureReason.BLOCKED,  # the destination's region is not provisioned
}

INBOUND_TYPES = frozenset({"mo_text", "mo_binary", "mo_media"})
BATCH_REPORT_TYPES = frozenset({"delivery_report_sms", "delivery_report_mms"})
RECIPIENT_REPORT_TYPES = frozenset(
    {"recipient_delivery_report_sms", "recipient_delivery_report_mms"}
)
_KNOWN_TYPES = ", ".join(sorted(INBOUND_TYPES | BATCH_REPORT_TYPES | RECIPIENT_REPORT_TYPES))

INBOUND_METADATA = ("operator_id", "client_reference", "sent_at", "udh")
REPORT_METADATA = (
    "client_reference",
    "operator",
    "encoding",
    "number_of_message_parts",
    "total_message_count",
)


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Parsed]:
    fields = decode_json_object(request.body)
    kind = required_str(fields, "type")
    if kind in INBOUND_TYPES:
        return [parse_inbound_message(fields, kind, receiver)]
    if kind in RECIPIENT_REPORT_TYPES:
        return [parse_recipient_report(fields, receiver)]
    if kind in BATCH_REPORT_TYPES:
        return parse_batch_report(fields, receiver)
    raise PayloadRejected(f"unsupported Sinch callback type {kind!r}: expected {_KNOWN_TYPES}")


def parse_inbound_message(fields: Fields, kind: str, receiver: ReceiverContext) -> MessageReceived:
    message_id = required_str(fields, "id")
    metadata: dict[str, JSONValue] = {"type": kind}
    metadata.update({name: fields[name] for name in INBOUND_METADATA if fields.get(name)})
    body: str | None
    if kind == "mo_text":
        body = text_value(fields, "body")
    elif kind == "mo_binary":
        body = None  # binary content is no text: kept base64 in metadata
        metadata["binary_body"] = required_str(fields, "body")
    else:
        media = fields.get("body")
        if not isinstance(media, dict):
            raise PayloadRejected(
                f"mo_media: 'body' must be an object, got a JSON {json_kind(media)}"
            )
        body = text_value(media, "message")
        metadata.update({name: media[name] for name in ("subject", "media") if media.get(name)})
    return MessageReceived(
        dedupe_key=f"inbound:{message_id}",
        provider_message_id=message_id,
        channel=Channel.SMS,
        sender=msisdn(required_str(fields, "from"), "from", receiver),
        recipient=msisdn(required_str(fields, "to"), "to", receiver),
        body=body,
        occurred_at=optional_time(fields, "received_at", receiver),
        metadata=metadata,
    )


def parse_recipient_report(fields: Fields, receiver: ReceiverContext) -> StatusReported:
    batch_id = required_str(fields, "batch_id")
    recipient = msisdn(required_str(fields, "recipient"), "recipient", receiver)
    originator = optional_str(fields, "applied_originator")
    # operator_status_at is the SMSC's own time of the status; `at` when Sinch made the report.
    occurred_at = optional_time(fields, "operator_status_at", receiver) or optional_time(
        fields, "at", receiver
    )
    return status_report(
        batch_id,
        recipient,
        required_str(fields, "status"),
        delivery_code(fields),
        occurred_at=occurred_at,
        sender=msisdn(originator, "applied_originator", receiver) if originator else None,
        reference=optional_str(fields, "client_reference"),
        metadata=report_metadata(fields),
    )


SUMMARY_NOTE = (
    "summary delivery report ({counts}): counts only, no recipient named, so nothing applied;"
    ' ask for "full", "per_recipient" or "per_recipient_final" reports to follow each message'
)


def parse_batch_report(fields: Fields, receiver: ReceiverContext) -> list[Parsed]:
    batch_id = required_str(fields, "batch_id")
    statuses = fields.get("statuses")
    if not isinstance(statuses, list) or not all(isinstance(item, dict) for item in statuses):
        raise PayloadRejected(
            f"'statuses' must be a list of objects, got a JSON {json_kind(statuses)}"
        )
    metadata = report_metadata(fields)
    reference = optional_str(fields, "client_reference")
    events: list[Parsed] = []
    counted: list[str] = []
    for index, entry in enumerate(statuses):
        provider_status = required_str(entry, "status", what=f"field of statuses[{index}]")
        code = delivery_code(entry)
        recipients = entry.get("recipients")
        if recipients is None:  # a summary report: counts only, no recipient to name
            count = entry.get("count")
            counted.append(f"{provider_status}: {count}" if type(count) is int else provider_status)
            continue
        if not isinstance(recipients, list):
            raise PayloadRejected(
                f"statuses[{index}].recipients must be a list, got a JSON {json_kind(recipients)}"
            )
        for position, value in enumerate(recipients):
            field = f"statuses[{index}].recipients[{position}]"
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise PayloadRejected(f"{field}: expected a phone number")
            events.append(
                status_report(
                    batch_id,
                    msisdn(str(value), field, receiver),
                    provider_status,
                    code,
                    occurred_at=None,  # a batch report carries no time
                    reference=reference,
                    metadata=metadata,
                )
            )
    if counted:
        events.append(NotApplied(SUMMARY_NOTE.format(counts=", ".join(counted))))
    return events


def status_report(
    batch_id: str,
    recipient: str,
    provider_status: str,
    code: int | str | None,
    *,
    occurred_at: datetime | None,
    reference: str | None,
    metadata: Mapping[str, JSONValue],
    sender: str | None = None,
) -> StatusReported:
    status, failure_reason = map_sinch_status(provider_status, code)
    message_name = f"{batch_id}:{recipient}"
    return StatusReported(
        dedupe_key=f"status:{message_name}:{provider_status.upper()}",
        provider_message_id=message_name,
        channel=Channel.SMS,
        status=status,
        provider_status=provider_status,
        failure_reason=failure_reason,
        occurred_at=occurred_at,
        recipient=recipient,
        sender=sender,
        reference=reference,
        metadata={**metadata, **({"code": code} if code is not None else {})},
    )


def map_sinch_status(
    value: str, code: int | str | None = None
) -> tuple[Status, FailureReason | None]:
    """A status word (any case) and its code to Callbox's status; unknown words: UNKNOWN."""
    status, reason = SINCH_STATUSES.get(value.strip().upper(), (Status.UNKNOWN, None))
    if status is Status.FAILED and isinstance(code, int) and code in SINCH_CODE_REASONS:
        reason = SINCH_CODE_REASONS[code]
    return status, reason


def delivery_code(fields: Fields) -> int | str | None:
    """``code``: an integer in most payloads, a string (``"0"``) in the XMS docs' example."""
    text = optional_str(fields, "code")
    if text is None:
        return None
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 9 else text


def msisdn(value: str, field: str, receiver: ReceiverContext) -> str:
    """Sinch writes MSISDNs in international format without ``+`` (``12025550134``), so a
    long all-digit number is read as international whatever the receiver's region; short
    codes and sender names are kept as given."""
    text = value.strip()
    if text.isascii() and text.isdigit() and len(text) >= 8:
        text = "+" + text
    return address(text, receiver.default_region, field=field)


def report_metadata(fields: Fields) -> dict[str, JSONValue]:
    metadata: dict[str, JSONValue] = {"type": fields["type"]}
    metadata.update({name: fields[name] for name in REPORT_METADATA if fields.get(name)})
    return metadata


def optional_time(fields: Fields, key: str, receiver: ReceiverContext) -> datetime | None:
    value = optional_str(fields, key)
    if value is None:
        return None
    return parse_timestamp(value, naive_zone=receiver.timezone, field=key)


# --- Signatures ---------------------------------------------------------------------------


def load_secret(text: str) -> bytes:
    """The callback secret as configured at Sinch, used as given (UTF-8)."""
    if not text.strip():
        raise ValueError("empty")
    if text != text.strip():
        raise ValueError("it starts or ends with whitespace (a copy-paste slip?)")
    return text.encode()


def signed_bytes(body: bytes, nonce: str, timestamp: str) -> bytes:
    # Headers reach us decoded as Latin-1: encoding back gives the bytes Sinch signed.
    return body + b"." + nonce.encode("latin-1") + b"." + timestamp.encode("latin-1")


def signature_for(key: bytes, algorithm: HashFactory, signed: bytes) -> bytes:
    return base64.b64encode(hmac.new(key, signed, algorithm).digest())


def hash_for(request: SignedRequest) -> HashFactory:
    named = request.headers.get(ALGORITHM_HEADER, "").strip() or DEFAULT_ALGORITHM
    algorithm = SIGNATURE_ALGORITHMS.get(named.lower())
    if algorithm is None:
        raise SignatureRejected(
            f"unsupported {ALGORITHM_HEADER} {named[:40]!r}: expected HmacSHA256, HmacSHA384"
            " or HmacSHA512"
        )
    return algorithm


def verify_signature(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    context: ReceiverContext,
    now: datetime,
) -> None:
    """base64 HMAC of ``body.nonce.timestamp`` with any of ``keys``, within 300 s of ``now``."""
    presented = required_header(request, SIGNATURE_HEADER)
    nonce = required_header(request, NONCE_HEADER)
    timestamp = required_header(request, TIMESTAMP_HEADER)
    algorithm = hash_for(request)
    signed_at = unix_time(timestamp, TIMESTAMP_HEADER)
    signed = signed_bytes(request.body, nonce, timestamp)
    require_match(keys, lambda key: signature_for(key, algorithm, signed), presented)
    require_within_window(signed_at, now)


def sign_request(
    request: SignedRequest, key: str, context: ReceiverContext, now: datetime
) -> SignedRequest:
    """The request as Sinch sends it signed with ``key`` (HmacSHA256) at ``now``."""
    timestamp = str(int(now.timestamp()))
    # A nonce unique to this body and second, so signing stays a pure function.
    nonce = hashlib.sha256(timestamp.encode() + b"." + request.body).hexdigest()[:26]
    signed = signed_bytes(request.body, nonce, timestamp)
    signature = signature_for(load_secret(key), hashlib.sha256, signed).decode()
    headers = {
        **request.headers,
        SIGNATURE_HEADER: signature,
        NONCE_HEADER: nonce,
        TIMESTAMP_HEADER: timestamp,
        ALGORITHM_HEADER: DEFAULT_ALGORITHM,
    }
    return dataclasses.replace(request, headers=headers)


SIGNATURE = SignatureScheme(
    verify=verify_signature,
    sign=sign_request,
    key_kind="Sinch callback secret",
    load_key=load_secret,
)

# sinch-sdk-python's end-to-end webhook steps (mo_text, the full report, the aborted report),
# the clxcommunications Python XMS SDK's tests (failed) and the XMS REST docs (string code).
SAMPLES = (
    SamplePayload(
        description="Inbound SMS (mo_text)",
        content_type="application/json",
        body=b"""{
  "id": "01W4FFL35P4NC4K35SMSBATCH8",
  "from": "12015555555",
  "to": "12017777777",
  "body": "Hello John! \\ud83d\\udc4b",
  "type": "mo_text",
  "operator_id": "311071",
  "received_at": "2024-06-06T07:52:37.386Z"
}""",
    ),
    SamplePayload(
        description="Full batch delivery report (delivery_report_sms with recipients)",
        content_type="application/json",
        body=b"""{
  "type": "delivery_report_sms",
  "batch_id": "01W4FFL35P4NC4K35SMSBATCH8",
  "client_reference": "client-ref",
  "statuses": [
    {"code": 0, "count": 2, "status": "Delivered", "recipients": ["12017777777", "33612345678"]}
  ]
}""",
    ),
    SamplePayload(
        description="Recipient delivery report: failed (recipient_delivery_report_sms)",
        content_type="application/json",
        body=b"""{
    "recipient": "123456789",
    "code": 11,
    "status": "Failed",
    "at": "2016-12-05T16:24:23.318Z",
    "type": "recipient_delivery_report_sms",
    "batch_id": "3-mbA7z9wDKY76ag",
    "operator_status_at": "2016-12-05T16:24:00.000Z"
}""",
    ),
    SamplePayload(
        description="Recipient delivery report: delivered, code as a string",
        content_type="application/json",
        body=b"""{
    "type": "recipient_delivery_report_sms",
    "batch_id": "{batch_id}",
    "recipient": "123456789",
    "code": "0",
    "status": "Delivered",
    "at": "2016-10-02T09:34:18.542Z",
    "operator_status_at": "2016-10-02T09:34:18.101Z"
}""",
    ),
    SamplePayload(
        description="Recipient delivery report: aborted, region not provisioned (code 412)",
        content_type="application/json",
        body=b"""{
  "type": "recipient_delivery_report_sms",
  "batch_id": "01W4FFL35P4NC4K35SMSBATCH9",
  "recipient": "12010000000",
  "code": 412,
  "status": "Aborted",
  "client_reference": "client-ref",
  "at": "2024-06-06T08:17:15.603Z"
}""",
    ),
)

PROVIDER = Provider(
    name="sinch",
    parse=parse,
    samples=SAMPLES,
    default_timezone="UTC",
    signature=SIGNATURE,
)
