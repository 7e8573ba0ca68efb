"""Vonage (formerly Nexmo): the SMS API's delivery receipts and inbound SMS, the Messages
API's status and inbound webhooks, and how each is signed.

A receiver serves one API, chosen by its ``api`` option: ``"sms"`` (the default) or
``"messages"``; the two send different fields and sign differently.

SMS API (``api = "sms"``)
    A callback comes as a GET query, a form POST or a JSON POST (an account setting), with the
    same fields either way. ``status`` makes it a delivery receipt, otherwise ``type``/
    ``text`` an inbound SMS.

    - Receipt -> :class:`StatusReported` for ``messageId`` (our message) to ``msisdn`` (its
      recipient), sent from ``to`` (our number or sender name); ``dedupe_key =
      "receipt:{messageId}:{status}"``. ``err-code`` says why a message failed; 9 means the
      recipient opted out, which also gives an :class:`OptOutReported` (``source="status"``,
      ``dedupe_key = "optout:{messageId}"``). The time is ``message-timestamp`` (when Vonage
      pushed the receipt: UTC, though it carries no zone, so it is read in the receiver's
      timezone, default UTC), else ``scts`` (``YYMMDDHHMM`` from the carrier, seen in the
      carrier's local time, so only a fallback); ``scts`` is kept in metadata.
    - Inbound -> :class:`MessageReceived` from ``msisdn`` to ``to``; ``dedupe_key =
      "inbound:{messageId}"``. A long message arrives as one callback per part (``concat=true``,
      ``concat-ref``, ``concat-part``, ``concat-total``), each with its own ``messageId``:
      each part is a :class:`MessagePart` of the group ``{msisdn}>{to}#{concat-ref}``, which
      the store joins into one message, named by part 1's ``messageId``, once all are in.
    - Signature (Vonage's "signed webhooks"): the ``sig`` parameter, beside ``timestamp`` and
      ``nonce``, is computed over every other parameter sorted by name, as ``&name=value``
      with ``&`` and ``=`` in values replaced by ``_``: ``md5hash`` (the dashboard's default)
      is MD5 of that string followed by the signature secret, ``md5``/``sha1``/``sha256``/
      ``sha512`` an HMAC of it keyed by the secret; the receiver's ``signature_method``
      option must name the dashboard's choice. Hex compared case-insensitively; ``timestamp``
      must be within 300 s.

Messages API (``api = "messages"``)
    JSON POSTs: ``status`` makes it a message status, otherwise an inbound message; ids are
    ``message_uuid``, times ISO 8601 ``timestamp``. Every channel (sms, mms, whatsapp,
    viber_service, rcs, messenger) is Callbox channel SMS with Vonage's word in metadata;
    Messenger's ids are not phone numbers and are kept as given.
    Signature: ``Authorization: Bearer <JWT>``, HS256 with the signature secret whatever the
    dashboard's signature method; its ``payload_hash`` claim must be the hex SHA-256 of the
    body as received and its ``iat`` within 300 s.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

import jwt
import msgspec
from jwt.utils import base64url_decode

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
    MessagePart,
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
    decode_form,
    decode_json_object,
    is_json,
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

SignatureMethod = Literal["md5hash", "md5", "sha1", "sha256", "sha512"]


class VonageOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """A Vonage receiver's options, written beside its common keys::

    [[receivers]]
    name = "vonage"
    provider = "vonage"
    api = "sms"                  # or "messages"
    signature_method = "sha256"  # the dashboard's "Signature method" (SMS API only)
    """

    api: Literal["sms", "messages"] = "sms"
    signature_method: SignatureMethod = "md5hash"
    """How the SMS API signs (the dashboard's default is ``md5hash``); the Messages API always
    signs its JWTs with HS256."""


# SMS API delivery receipts (developer.vonage.com "Delivery receipts"). ``rejected`` is shared
# with the Messages API and means the same there.
SMS_RECEIPT_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "delivered": (Status.DELIVERED, None),
    "expired": (Status.FAILED, FailureReason.EXPIRED),
    "failed": (Status.FAILED, FailureReason.UNKNOWN),  # err-code says why (below)
    "rejected": (Status.FAILED, FailureReason.BLOCKED),  # refused by Vonage or the network
    "accepted": (Status.SENT, None),  # accepted by the carrier, not yet by the handset
    "buffered": (Status.SENT, None),  # held by the carrier until the handset is reachable
    "unknown": (Status.UNKNOWN, None),
}

# Messages API message statuses (developer.vonage.com Messages API "message-status").
MESSAGES_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "submitted": (Status.SENT, None),  # handed to the channel or carrier
    "delivered": (Status.DELIVERED, None),
    "read": (Status.DELIVERED, None),  # read receipts (WhatsApp, Viber, RCS...) imply delivery
    "rejected": (Status.FAILED, FailureReason.BLOCKED),
    "undeliverable": (Status.FAILED, FailureReason.UNKNOWN),  # the cause is in ``error``
}

# A failed or rejected receipt's err-code (Vonage support, "SMS Delivery Error Codes"); other
# codes keep the status's own reason.
SMS_ERROR_REASONS: dict[str, FailureReason] = {
    "1": FailureReason.UNKNOWN,  # Unknown: no cause could be determined
    "2": FailureReason.TEMPORARY,  # Absent Subscriber - Temporary
    "3": FailureReason.PERMANENT,  # Absent Subscriber - Permanent: no longer active
    "4": FailureReason.BLOCKED,  # Call Barred by User
    "5": FailureReason.TECHNICAL,  # Portability Error
    "6": FailureReason.BLOCKED,  # Anti-Spam Rejection
    "7": FailureReason.TEMPORARY,  # Handset Busy
    "8": FailureReason.TECHNICAL,  # Network Error
    "9": FailureReason.BLOCKED,  # Illegal Number: the recipient opted out of our messages
    "10": FailureReason.TECHNICAL,  # Illegal Message: e.g. a wrong encoding flag
    "11": FailureReason.TECHNICAL,  # Unroutable: Vonage found no route
    "12": FailureReason.INVALID_RECIPIENT,  # Destination Unreachable: check the number
    "13": FailureReason.BLOCKED,  # Subscriber Age Restriction
    "14": FailureReason.BLOCKED,  # Number Blocked by Carrier
}
OPTED_OUT_ERROR = "9"

RECEIPT_METADATA = ("network-code", "price", "err-code", "scts")
INBOUND_METADATA = ("type", "keyword", "network-code", "data", "udh")
MESSAGES_STATUS_METADATA = ("channel", "error", "usage", "destination", "sms", "whatsapp")
MESSAGES_INBOUND_METADATA = (
    "channel",
    "message_type",
    "usage",
    "sms",
    "image",
    "audio",
    "video",
    "file",
    "vcard",
    "location",
    "sticker",
    "reply",
    "button",
    "profile",
    "context",
    "whatsapp",
)

MAX_PARTS = 255
"""A concatenated SMS's user data header counts parts in one byte."""
MAX_REFERENCE_LENGTH = 32
"""``concat-ref`` is the header's 8- or 16-bit reference number: anything longer is junk (and
would make an oversized index entry for the parts' group)."""

# The parameters the SMS API's signature adds; everything else is signed.
SIGNATURE_PARAMETERS = ("sig", "timestamp", "nonce")


def options_of(receiver: ReceiverContext) -> VonageOptions:
    options = receiver.options
    return options if isinstance(options, VonageOptions) else VonageOptions()


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    if options_of(receiver).api == "messages":
        return parse_messages_api(request, receiver)
    return parse_sms_api(request, receiver)


# --- SMS API -------------------------------------------------------------------------------


def parse_sms_api(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    fields = sms_api_fields(request)
    if "message_uuid" in fields and "messageId" not in fields:
        raise PayloadRejected(
            'a Messages API webhook (message_uuid) on an SMS API receiver: set api = "messages"'
        )
    if "status" in fields:
        return parse_delivery_receipt(fields, receiver)
    if any(name in fields for name in ("text", "type", "concat", "data")):
        return [parse_inbound_sms(fields, receiver)]
    raise PayloadRejected(
        "not a Vonage SMS API callback: expected a delivery receipt (messageId, msisdn, status)"
        " or an inbound SMS (messageId, msisdn, to, type, text); for the Messages API set the"
        ' receiver\'s api = "messages"'
    )


def sms_api_fields(request: InboundRequest) -> dict[str, Any]:
    """The callback's parameters: the query of a GET (or of a POST without a body), else the
    JSON object or form in the body."""
    if request.method == "GET" or not request.body.strip():
        if not request.query:
            raise PayloadRejected("no parameters: expected a query (GET) or a body (POST)")
        return dict(request.query)
    if is_json(request):
        return decode_json_object(request.body)
    return decode_form(request.body)


def parse_delivery_receipt(fields: Fields, receiver: ReceiverContext) -> list[Event]:
    message_id = required_str(fields, "messageId")
    provider_status = required_str(fields, "status")
    status, failure_reason = SMS_RECEIPT_STATUSES.get(
        provider_status.lower(), (Status.UNKNOWN, None)
    )
    error_code = optional_str(fields, "err-code")
    refines = provider_status.lower() in ("failed", "rejected")
    if refines and error_code in SMS_ERROR_REASONS:
        failure_reason = SMS_ERROR_REASONS[error_code]
    recipient = optional_address(fields, "msisdn", receiver)
    scts = optional_str(fields, "scts")
    carrier_time = parse_scts(scts, receiver) if scts is not None else None
    occurred_at = message_timestamp(fields, receiver) or carrier_time
    events: list[Event] = [
        StatusReported(
            dedupe_key=f"receipt:{message_id}:{provider_status}",
            provider_message_id=message_id,
            channel=Channel.SMS,
            status=status,
            provider_status=provider_status,
            failure_reason=failure_reason,
            occurred_at=occurred_at,
            recipient=recipient,
            sender=optional_address(fields, "to", receiver),
            reference=optional_str(fields, "client-ref"),
            metadata=collect_metadata(fields, RECEIPT_METADATA),
        )
    ]
    if refines and error_code == OPTED_OUT_ERROR and recipient is not None:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{message_id}",
                address=recipient,
                channel=Channel.SMS,
                occurred_at=occurred_at,
                source="status",
                provider_message_id=message_id,
            )
        )
    return events


def parse_inbound_sms(fields: Fields, receiver: ReceiverContext) -> MessageReceived:
    message_id = required_str(fields, "messageId")
    sender = address(required_str(fields, "msisdn"), receiver.default_region, field="msisdn")
    recipient = optional_address(fields, "to", receiver)
    metadata = collect_metadata(fields, INBOUND_METADATA)
    part = message_part(fields, sender, recipient)
    if part is not None:
        metadata["concat-ref"] = required_str(fields, "concat-ref")
    return MessageReceived(
        dedupe_key=f"inbound:{message_id}",
        provider_message_id=message_id,
        channel=Channel.SMS,
        sender=sender,
        recipient=recipient,
        body=text_value(fields, "text"),  # absent for type=binary (``data`` and ``udh``)
        occurred_at=message_timestamp(fields, receiver),
        metadata=metadata,
        part=part,
    )


def message_part(fields: Fields, sender: str, recipient: str | None) -> MessagePart | None:
    """Where a part of a long inbound SMS fits (``concat=true``), or ``None``."""
    concat = (optional_str(fields, "concat") or "false").lower()
    if concat == "false":
        return None
    if concat != "true":
        raise PayloadRejected(f"concat: expected true or false, got {concat!r}")
    reference = required_str(fields, "concat-ref")
    if len(reference) > MAX_REFERENCE_LENGTH:
        raise PayloadRejected(
            f"concat-ref: {len(reference)} characters, expected at most {MAX_REFERENCE_LENGTH}"
        )
    count = part_count(fields, "concat-total")
    number = part_count(fields, "concat-part")
    if number > count:
        raise PayloadRejected(f"concat-part {number} is more than concat-total {count}")
    if count == 1:
        return None  # the whole message
    return MessagePart(group=f"{sender}>{recipient or ''}#{reference}", number=number, count=count)


def part_count(fields: Fields, key: str) -> int:
    value = required_str(fields, key)
    if not (
        value.isascii() and value.isdigit() and len(value) <= 3 and 1 <= int(value) <= MAX_PARTS
    ):
        raise PayloadRejected(f"{key}: expected a number from 1 to {MAX_PARTS}, got {value!r}")
    return int(value)


def message_timestamp(fields: Fields, receiver: ReceiverContext) -> datetime | None:
    """``message-timestamp``: ``2020-01-01 12:00:00`` (UTC by the docs, read in the receiver's
    timezone), ``2020-01-01 12:00:00 +0000`` or ``2020-01-01T12:00:00.000+00:00``."""
    value = optional_str(fields, "message-timestamp")
    if value is None:
        return None
    return parse_timestamp(value, naive_zone=receiver.timezone, field="message-timestamp")


def parse_scts(value: str, receiver: ReceiverContext) -> datetime:
    """``scts``, ``YYMMDDHHMM``, read in the receiver's timezone."""
    try:
        if not (len(value) == 10 and value.isascii() and value.isdigit()):
            raise ValueError(value)
        naive = datetime.strptime(value, "%y%m%d%H%M")
    except ValueError:
        raise PayloadRejected(f"scts: expected YYMMDDHHMM, got {value!r}") from None
    return naive.replace(tzinfo=receiver.timezone).astimezone(UTC)


def optional_address(fields: Fields, key: str, receiver: ReceiverContext) -> str | None:
    value = optional_str(fields, key)
    return address(value, receiver.default_region, field=key) if value is not None else None


def collect_metadata(fields: Fields, names: Sequence[str]) -> dict[str, Any]:
    """The named fields as Vonage sent them, under Vonage's names, when present."""
    return {name: fields[name] for name in names if fields.get(name) is not None}


# --- Messages API --------------------------------------------------------------------------


def parse_messages_api(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    fields = decode_json_object(request.body)
    if "messageId" in fields and "message_uuid" not in fields:
        raise PayloadRejected(
            'an SMS API callback (messageId) on a Messages API receiver: set api = "sms"'
        )
    if "status" in fields:
        return [parse_message_status(fields, receiver)]
    if "message_type" in fields or "text" in fields:
        return [parse_inbound_message(fields, receiver)]
    raise PayloadRejected(
        "not a Vonage Messages API webhook: expected a message status (message_uuid, to, from,"
        " status, timestamp) or an inbound message (message_uuid, to, from, channel,"
        ' message_type, timestamp); for the SMS API set the receiver\'s api = "sms"'
    )


def parse_message_status(fields: Fields, receiver: ReceiverContext) -> StatusReported:
    message_uuid = required_str(fields, "message_uuid")
    provider_status = required_str(fields, "status")
    status, failure_reason = MESSAGES_STATUSES.get(provider_status.lower(), (Status.UNKNOWN, None))
    channel_name = optional_str(fields, "channel")
    return StatusReported(
        dedupe_key=f"receipt:{message_uuid}:{provider_status}",
        provider_message_id=message_uuid,
        channel=Channel.SMS,
        status=status,
        provider_status=provider_status,
        failure_reason=failure_reason,
        occurred_at=messages_timestamp(fields, receiver),
        recipient=channel_address(fields, "to", channel_name, receiver),
        sender=channel_address(fields, "from", channel_name, receiver),
        reference=optional_str(fields, "client_ref"),
        metadata=collect_metadata(fields, MESSAGES_STATUS_METADATA),
    )


def parse_inbound_message(fields: Fields, receiver: ReceiverContext) -> MessageReceived:
    message_uuid = required_str(fields, "message_uuid")
    channel_name = optional_str(fields, "channel")
    sender = channel_address(fields, "from", channel_name, receiver)
    if sender is None:
        raise PayloadRejected("missing required field 'from'")
    context = fields.get("context")
    answered = optional_str(context, "message_uuid") if isinstance(context, dict) else None
    return MessageReceived(
        dedupe_key=f"inbound:{message_uuid}",
        provider_message_id=message_uuid,
        channel=Channel.SMS,
        sender=sender,
        recipient=channel_address(fields, "to", channel_name, receiver),
        body=text_value(fields, "text"),  # media messages carry theirs in metadata
        occurred_at=messages_timestamp(fields, receiver),
        in_reply_to=answered,
        metadata=collect_metadata(fields, MESSAGES_INBOUND_METADATA),
    )


def messages_timestamp(fields: Fields, receiver: ReceiverContext) -> datetime | None:
    value = optional_str(fields, "timestamp")
    if value is None:
        return None
    return parse_timestamp(value, naive_zone=receiver.timezone, field="timestamp")


def channel_address(
    fields: Fields, key: str, channel_name: str | None, receiver: ReceiverContext
) -> str | None:
    """A phone number made E.164; a Messenger id (not a number) kept as given."""
    value = optional_str(fields, key)
    if value is None:
        return None
    if channel_name == "messenger":
        if len(value) > 254:
            raise PayloadRejected(f"{key}: a Messenger id of {len(value)} characters is too long")
        return value
    return address(value, receiver.default_region, field=key)


# --- Signatures ----------------------------------------------------------------------------


def load_signature_secret(text: str) -> bytes:
    """The account's signature secret (dashboard, API settings), as the HMAC key."""
    if not text.strip():
        raise ValueError("the signature secret is empty")
    if not (text.isascii() and text.isprintable()) or any(char.isspace() for char in text):
        raise ValueError(
            "a signature secret is printable ASCII without spaces or line breaks: copy it as"
            " the Vonage dashboard shows it"
        )
    return text.encode()


def verify(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    receiver: ReceiverContext,
    now: datetime,
) -> None:
    options = options_of(receiver)
    if options.api == "messages":
        verify_messages_jwt(request, keys, now)
    else:
        verify_sms_signature(request, keys, options.signature_method, now)


def sign(
    request: SignedRequest, key: str, receiver: ReceiverContext, now: datetime
) -> SignedRequest:
    options = options_of(receiver)
    if options.api == "messages":
        return sign_messages_jwt(request, key, now)
    return sign_sms_request(request, key, options.signature_method, now)


# SMS API: the ``sig`` parameter.


def verify_sms_signature(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    method: SignatureMethod,
    now: datetime,
) -> None:
    params: dict[str, str] = {}
    for name, value in signed_parameters(request):
        if name in params:
            raise SignatureRejected(f"parameter {name!r} appears twice")
        params[name] = parameter_text(name, value)
    presented = params.pop("sig", "").strip()
    if not presented:
        raise SignatureRejected("missing sig parameter")
    if "timestamp" not in params:
        raise SignatureRejected("missing timestamp parameter")
    signed_at = unix_time(params["timestamp"], "timestamp")
    text = signing_string(params)
    require_match(keys, lambda key: sms_signature(method, key, text), presented.lower())
    require_within_window(signed_at, now)


def signed_parameters(request: SignedRequest) -> list[tuple[str, Any]]:
    """Every parameter where :func:`sms_api_fields` reads them, repeated names kept."""
    if request.method == "GET" or not request.body.strip():
        return request.query_params()
    if request.content_type.endswith("json") or request.body.lstrip()[:1] in (b"{", b"["):
        try:
            document = json.loads(request.body)
        except (ValueError, RecursionError):
            raise SignatureRejected("body is not JSON: cannot check the sig parameter") from None
        if not isinstance(document, dict):
            raise SignatureRejected("body is not a JSON object: cannot check the sig parameter")
        return list(document.items())
    try:
        return parse_qsl(request.body.decode(), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise SignatureRejected("body is not a form: cannot check the sig parameter") from None


def parameter_text(name: str, value: Any) -> str:
    """A parameter's value as signed: text as sent, an integer in decimal (as the SDKs do)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise SignatureRejected(f"parameter {name!r} is not text: cannot check the sig parameter")


def signing_string(params: Mapping[str, str]) -> str:
    """``&name=value`` for every parameter sorted by name, ``&`` and ``=`` in values as ``_``."""
    return "".join(
        f"&{name}={params[name].replace('&', '_').replace('=', '_')}" for name in sorted(params)
    )


def sms_signature(method: SignatureMethod, key: bytes, text: str) -> str:
    """Lower-case hex, as the SDKs' ``md5hash``; the HMAC methods' SDKs upper-case it."""
    data = text.encode()
    if method == "md5hash":
        # Vonage's default "MD5 hash" scheme: the provider's choice, offered as configured.
        return hashlib.md5(data + key).hexdigest()  # noqa: S324
    return hmac.new(key, data, method).hexdigest()


def sign_sms_request(
    request: SignedRequest, key: str, method: SignatureMethod, now: datetime
) -> SignedRequest:
    """The request as Vonage would send it signed: fresh ``timestamp`` and ``nonce``, then
    ``sig`` (upper-case for the HMAC methods, as Vonage sends them), where the parameters are."""
    in_body = not (request.method == "GET" or not request.body.strip())
    as_json = in_body and (
        request.content_type.endswith("json") or request.body.lstrip()[:1] == b"{"
    )
    if as_json:
        document: dict[str, Any] = json.loads(request.body)
    elif in_body:
        document = dict(parse_qsl(request.body.decode(), keep_blank_values=True))
    else:
        document = dict(request.query_params())
    for name in SIGNATURE_PARAMETERS:
        document.pop(name, None)
    document["timestamp"] = str(int(now.timestamp()))
    document["nonce"] = str(uuid.uuid4())
    signed = {name: parameter_text(name, value) for name, value in document.items()}
    sig = sms_signature(method, key.encode(), signing_string(signed))
    document["sig"] = sig if method == "md5hash" else sig.upper()
    if as_json:
        return replace(request, body=json.dumps(document).encode())
    encoded = urlencode(document)
    if in_body:
        return replace(request, body=encoded.encode())
    return replace(request, query_string=encoded, url=request.url.split("?", 1)[0] + f"?{encoded}")


# Messages API: a JWT in the Authorization header.


def verify_messages_jwt(
    request: SignedRequest, keys: Sequence[SignatureKey], now: datetime
) -> None:
    token = bearer_token(request)
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureRejected("the Bearer token is not a JWT")
    header = jwt_segment(parts[0], "header")
    if header.get("alg") != "HS256":
        raise SignatureRejected("the JWT is not signed with HS256")
    try:
        presented = base64url_decode(parts[2].encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise SignatureRejected("the JWT's signature is not base64url") from None
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    require_match(
        keys, lambda key: hmac.new(key, signing_input, hashlib.sha256).digest(), presented
    )
    check_claims(jwt_segment(parts[1], "payload"), request.body, now)


def bearer_token(request: SignedRequest) -> str:
    scheme, _, token = required_header(request, "Authorization").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SignatureRejected("the Authorization header is not a Bearer token")
    return token.strip()


def jwt_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(base64url_decode(segment.encode("ascii")))
    except (ValueError, UnicodeEncodeError, RecursionError):
        raise SignatureRejected(f"the JWT's {what} is not base64url JSON") from None
    if not isinstance(document, dict):
        raise SignatureRejected(f"the JWT's {what} is not a JSON object")
    return document


def check_claims(claims: Mapping[str, Any], body: bytes, now: datetime) -> None:
    """``payload_hash`` binds the body (as received, byte for byte); ``iat`` bounds replays."""
    payload_hash = claims.get("payload_hash")
    if not isinstance(payload_hash, str):
        raise SignatureRejected("the JWT has no payload_hash claim")
    body_hash = hashlib.sha256(body).hexdigest()
    if not hmac.compare_digest(payload_hash.lower().encode(), body_hash.encode()):
        raise SignatureRejected("payload_hash does not match the body")
    issued_at = claims.get("iat")
    if not isinstance(issued_at, int) or isinstance(issued_at, bool):
        raise SignatureRejected("the JWT has no iat claim")
    require_within_window(unix_time(str(issued_at), "iat"), now)
    expires = claims.get("exp")
    if isinstance(expires, bool) or not isinstance(expires, int | float):
        return
    if now.timestamp() > expires:
        raise SignatureRejected("the JWT has expired")


def sign_messages_jwt(request: SignedRequest, key: str, now: datetime) -> SignedRequest:
    """The request as the Messages API would send it: a JWT made by PyJWT (not by the code
    that verifies it) with Vonage's claims."""
    claims = {
        "iat": int(now.timestamp()),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(request.body).hexdigest(),
    }
    token = jwt.encode(claims, key, algorithm="HS256")
    return replace(request, headers={**request.headers, "authorization": f"Bearer {token}"})


# --- Registration --------------------------------------------------------------------------

_SIGNED_DELIVERY_RECEIPT = b"""{
  "msisdn": "447700900000",
  "to": "AcmeInc",
  "network-code": "12345",
  "messageId": "0A0000001234567B",
  "price": "0.03330000",
  "status": "delivered",
  "scts": "2001011400",
  "err-code": "0",
  "api-key": "abcd1234",
  "client-ref": "my-personal-reference",
  "message-timestamp": "2020-01-01 12:00:00 +0000",
  "timestamp": "1582650446",
  "nonce": "ec11dd3e-1e7f-4db5-9467-82b02cd223b9",
  "sig": "1A20E4E2069B609FDA6CECA9DE18D5CAFE99720DDB628BD6BE8B19942A336E1C"
}"""

_OPTED_OUT_RECEIPT = b"""{
   "msisdn": "447700900000",
   "to": "AcmeInc",
   "network-code": "12345",
   "messageId": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
   "price": "0.00000000",
   "status": "failed",
   "scts": "2001011400",
   "err-code": "9",
   "api-key": "abcd1234",
   "message-timestamp": "2020-01-01 12:00:00"
}"""

_INBOUND_PART = b"""{
  "api-key": "abcd1234",
  "msisdn": "447700900001",
  "to": "447700900000",
  "messageId": "0A0000000123ABCD1",
  "text": "Hello world",
  "type": "text",
  "keyword": "HELLO",
  "message-timestamp": "2020-01-01 12:00:00 +0000",
  "timestamp": "1578787200",
  "nonce": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
  "concat": "true",
  "concat-ref": "1",
  "concat-total": "3",
  "concat-part": "2"
}"""

SAMPLES = (
    SamplePayload(
        description="SMS API delivery receipt, JSON POST, signed (Vonage API docs)",
        content_type="application/json",
        body=_SIGNED_DELIVERY_RECEIPT,
    ),
    SamplePayload(
        description="SMS API receipt: failed, err-code 9, the recipient opted out (Vonage docs)",
        content_type="application/json",
        body=_OPTED_OUT_RECEIPT,
    ),
    SamplePayload(
        description="SMS API delivery receipt, GET query (nyaruka/courier's Nexmo handler)",
        content_type="",
        method="GET",
        body=b"",
        query=(
            "msisdn=4527631111&to=Tak&network-code=23820&messageId=0C0000002EEBDA56"
            "&price=0.01820000&status=delivered&scts=1705021324&err-code=0"
            "&message-timestamp=2017-05-02+11%3A24%3A03"
        ),
    ),
    SamplePayload(
        description="SMS API inbound SMS, GET query (nyaruka/courier's Nexmo handler)",
        content_type="",
        method="GET",
        body=b"",
        query=(
            "msisdn=15862151111&to=12812581111&messageId=0B0000004B65F62F&text=Msg&type=text"
            "&keyword=Keyword&message-timestamp=2017-05-01+21%3A52%3A49"
        ),
    ),
    SamplePayload(
        description="SMS API inbound SMS, form POST (the Vonage Node SDK's signature test)",
        content_type="application/x-www-form-urlencoded",
        body=(
            b"message-timestamp=2013-11-21+15%3A27%3A30&messageId=020000001B0FE827"
            b"&msisdn=14843472194&text=Test+again&timestamp=1385047698&to=13239877404&type=text"
        ),
    ),
    SamplePayload(
        description="SMS API inbound SMS, part 2 of 3 of a long message, JSON (Vonage API docs)",
        content_type="application/json",
        body=_INBOUND_PART,
    ),
)

PROVIDER = Provider(
    name="vonage",
    parse=parse,
    samples=SAMPLES,
    options_type=VonageOptions,
    default_timezone="UTC",
    methods=frozenset({"GET", "POST"}),
    signature=SignatureScheme(
        verify=verify,
        sign=sign,
        key_kind="Vonage signature secret",
        load_key=load_signature_secret,
    ),
)
