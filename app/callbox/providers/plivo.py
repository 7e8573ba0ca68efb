"""Plivo messaging callbacks: status callbacks and inbound messages, signed (V3).

Plivo sends form data on a POST, or the same parameters in the query on a GET (the method is
chosen with the callback URL); field names are matched case-insensitively (``Status`` is
``status`` in some integrations' tests):

- a status callback: ``MessageUUID``, ``Status`` (queued, sent, failed, delivered,
  undelivered, read; older pages: rejected), ``To``/``From``, ``Type`` (sms, mms, whatsapp),
  ``ErrorCode`` on failed and undelivered messages, ``Sequence`` (the order in which Plivo
  generated the callbacks of one message), ``ParentMessageUUID``/``PartInfo`` (one message
  sent in several parts), and ``MessageTime``/``QueuedTime``/``SentTime``/
  ``DeliveryReportTime`` (``YYYY-mm-dd HH:MM:SS.ffffff`` without a zone, read in the
  receiver's timezone) -> :class:`StatusReported`. ``ErrorCode`` sharpens the failure
  reason; 200 (the recipient sent STOP) adds an :class:`OptOutReported` with
  ``source="status"``. In the US and Canada carriers send no delivery reports, so ``sent``
  is the last status there;
- an inbound message: ``MessageUUID``, ``From``, ``To``, ``Text`` (``Body`` for MMS and
  WhatsApp), ``Media1``…``MediaN``, ``MessageIntent`` (optout, optin, help: the text matched
  Plivo's keyword lists) -> :class:`MessageReceived`, plus an :class:`OptOutReported` with
  ``source="provider"`` for optout/optin (when the store's keyword rule records the same
  text, the ledger keeps one row: ``store/sql/callbox_record_opt_out.sql``).

Identity: a status callback's ``provider_message_id`` is ``ParentMessageUUID`` when given
(the whole message; each part has its own ``MessageUUID``), else ``MessageUUID``. Dedupe
keys: ``status:{MessageUUID}:{status}``, ``inbound:{MessageUUID}``, ``optout:{MessageUUID}``.

Signature V3 (plivo-python ``validate_v3_signature``, plivo-go ``ValidateSignatureV3``):
base64 HMAC-SHA256 with the Auth Token over ``{base}.{nonce}``, the nonce from
``X-Plivo-Signature-V3-Nonce``. For a POST, ``base`` is ``scheme://host/path``, then
``?`` + the URL's query sorted (``k=v`` joined by ``&``) + ``.`` when the URL has a query, or
``?`` when it has none but the body has parameters, then every POST parameter sorted by name,
name and value concatenated; for a GET, ``scheme://host/path?`` + every query parameter
sorted as ``k=v`` joined by ``&``. ``X-Plivo-Signature-V3`` may hold several signatures
separated by commas (several active Auth Tokens), and ``X-Plivo-Signature-Ma-V3`` the main
account's: any one verifying is enough. There is no timestamp, so no replay window: a replay
is recognised by its dedupe key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from callbox.model.vocabulary import Channel, FailureReason, OptOutAction, Status
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
    decode_form,
    fold_keys,
    optional_str,
    parse_timestamp,
    text_value,
)
from callbox.providers.signatures import MISMATCH, matches_any, required_header

Fields = Mapping[str, Any]

# https://www.plivo.com/docs/messaging/api/message/message-status-callbacks
PLIVO_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "queued": (Status.PENDING, None),
    "sent": (Status.SENT, None),  # handed to the carrier; final in the US and Canada
    "delivered": (Status.DELIVERED, None),
    "read": (Status.DELIVERED, None),  # WhatsApp: reading implies delivery
    # The cause is in ErrorCode (ERROR_CODE_REASONS); without a known code it is unknown.
    "undelivered": (Status.FAILED, FailureReason.UNKNOWN),  # the carrier reported a failure
    "failed": (Status.FAILED, FailureReason.UNKNOWN),  # never left Plivo
    "rejected": (Status.FAILED, FailureReason.UNKNOWN),  # older pages
}

# https://www.plivo.com/docs/messaging/troubleshooting/error-codes
ERROR_CODE_REASONS: dict[str, FailureReason] = {
    "20": FailureReason.TEMPORARY,  # network error
    "30": FailureReason.BLOCKED,  # spam detected
    "40": FailureReason.TECHNICAL,  # invalid source number
    "50": FailureReason.INVALID_RECIPIENT,  # invalid destination number
    "60": FailureReason.TECHNICAL,  # loop detected
    "70": FailureReason.PERMANENT,  # destination permanently unavailable
    "80": FailureReason.TEMPORARY,  # destination temporarily unavailable
    "90": FailureReason.TECHNICAL,  # no route available
    "100": FailureReason.BLOCKED,  # prohibited by carrier
    "110": FailureReason.TECHNICAL,  # message too long
    "200": FailureReason.BLOCKED,  # source number blocked by STOP from the destination
    "300": FailureReason.TECHNICAL,  # failed to dispatch message
    "420": FailureReason.EXPIRED,  # message expired
    "900": FailureReason.TECHNICAL,  # insufficient credit
    "910": FailureReason.BLOCKED,  # account disabled
}
OPTED_OUT_ERROR_CODES = frozenset({"200"})

# MessageIntent on an inbound message; "help" changes nothing in the ledger.
MESSAGE_INTENTS: dict[str, OptOutAction] = {
    "optout": OptOutAction.OPT_OUT,
    "optin": OptOutAction.OPT_IN,
}

# Lower-cased fields normalised into the event rather than kept in metadata.
_NORMALISED_FIELDS = frozenset(
    {"messageuuid", "parentmessageuuid", "status", "from", "to", "text", "body"}
)
_MEDIA_FIELD = re.compile(r"media([0-9]{1,3})")
# A status callback's time is the latest of these it carries.
_TIME_FIELDS = ("MessageTime", "QueuedTime", "SentTime", "DeliveryReportTime")


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    raw = plivo_fields(request)
    fields = fold_keys(raw)
    if "status" in fields:
        return parse_status_callback(fields, raw, receiver)
    if "text" in fields or "body" in fields:
        return parse_inbound_message(fields, raw, receiver)
    raise PayloadRejected(
        "not a Plivo message callback: expected Status (a status callback) or Text "
        "(an inbound message)"
    )


def plivo_fields(request: InboundRequest) -> Mapping[str, Any]:
    """Form parameters of a POST, or the query of a GET (or of a POST without a body)."""
    if request.body.strip():
        if request.content_type.endswith("json"):
            raise PayloadRejected("Plivo sends form parameters, not JSON")
        return decode_form(request.body)
    if request.query:
        return request.query
    raise PayloadRejected("empty request: expected Plivo's form or query parameters")


def map_plivo_status(word: str) -> tuple[Status, FailureReason | None]:
    """A status word to Callbox's status; unknown words are ``UNKNOWN``."""
    return PLIVO_STATUSES.get(word.lower(), (Status.UNKNOWN, None))


def parse_status_callback(fields: Fields, raw: Fields, receiver: ReceiverContext) -> list[Event]:
    message_uuid = _required(fields, "MessageUUID")
    word = _required(fields, "Status")
    message_id = optional_str(fields, "parentmessageuuid") or message_uuid
    status, failure_reason = map_plivo_status(word)
    error_code = optional_str(fields, "errorcode")
    if status is Status.FAILED and error_code in ERROR_CODE_REASONS:
        failure_reason = ERROR_CODE_REASONS[error_code]
    times = {name: _time(fields, name, receiver) for name in _TIME_FIELDS}
    known = [at for at in times.values() if at is not None]
    occurred_at = max(known) if known else None
    recipient = _party(fields, "to", receiver)
    metadata = collect_metadata(raw)
    if message_uuid != message_id:
        metadata["part_uuid"] = message_uuid
    events: list[Event] = [
        StatusReported(
            dedupe_key=f"status:{message_uuid}:{word.lower()}",
            provider_message_id=message_id,
            channel=Channel.SMS,
            status=status,
            provider_status=word,
            failure_reason=failure_reason,
            occurred_at=occurred_at,
            recipient=recipient,
            sender=_party(fields, "from", receiver),
            created_at=times["MessageTime"],
            sent_at=times["SentTime"],
            metadata=metadata,
        )
    ]
    if status is Status.FAILED and error_code in OPTED_OUT_ERROR_CODES and recipient:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{message_uuid}",
                address=recipient,
                channel=Channel.SMS,
                occurred_at=occurred_at,
                source="status",
                provider_message_id=message_id,
                text=f"ErrorCode {error_code}",
            )
        )
    return events


def parse_inbound_message(fields: Fields, raw: Fields, receiver: ReceiverContext) -> list[Event]:
    message_uuid = _required(fields, "MessageUUID")
    sender = _party(fields, "from", receiver)
    if sender is None:
        raise PayloadRejected("missing required field 'From'")
    text = text_value(fields, "text") if "text" in fields else text_value(fields, "body")
    events: list[Event] = [
        MessageReceived(
            dedupe_key=f"inbound:{message_uuid}",
            provider_message_id=message_uuid,
            channel=Channel.SMS,
            sender=sender,
            recipient=_party(fields, "to", receiver),
            body=text,
            occurred_at=None,  # the callback says nothing of when the message arrived
            metadata=collect_metadata(raw),
        )
    ]
    action = MESSAGE_INTENTS.get((optional_str(fields, "messageintent") or "").lower())
    # (A STOP the store's keyword rule also records is one ledger row: see
    # store/sql/callbox_record_opt_out.sql.)
    if action is not None:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{message_uuid}",
                address=sender,
                channel=Channel.SMS,
                occurred_at=None,
                source="provider",
                opted_in=action is OptOutAction.OPT_IN,
                text=text,
            )
        )
    return events


def _required(fields: Fields, name: str) -> str:
    """A field by Plivo's spelling of its name, looked up lower-cased."""
    value = optional_str(fields, name.lower())
    if value is None:
        raise PayloadRejected(f"missing required field {name!r}")
    return value


def _party(fields: Fields, name: str, receiver: ReceiverContext) -> str | None:
    value = optional_str(fields, name)
    if value is None:
        return None
    return address(value, receiver.default_region, field=name.capitalize())


def _time(fields: Fields, name: str, receiver: ReceiverContext) -> datetime | None:
    value = optional_str(fields, name.lower())
    if value is None:
        return None
    return parse_timestamp(value, naive_zone=receiver.timezone, field=name)


def collect_metadata(raw: Fields) -> dict[str, JSONValue]:
    """Every field Callbox does not normalise, with Plivo's spelling (empty ones left out);
    MMS media URLs as a list."""
    metadata: dict[str, JSONValue] = {}
    media: dict[int, str] = {}
    for name, value in raw.items():
        folded = name.lower()
        if folded in _NORMALISED_FIELDS or value is None or value == "":
            continue
        medium = _MEDIA_FIELD.fullmatch(folded)
        if medium is not None:
            media[int(medium.group(1))] = value
            continue
        metadata[name] = value
    if media:
        metadata["media"] = [media[index] for index in sorted(media)]
    return metadata


# --- Signature V3 ---------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Plivo-Signature-V3"
MAIN_ACCOUNT_SIGNATURE_HEADER = "X-Plivo-Signature-Ma-V3"
NONCE_HEADER = "X-Plivo-Signature-V3-Nonce"
FORM = "application/x-www-form-urlencoded"
MAX_SIGNATURES = 8
"""Signatures read from the headers at most (Plivo sends one per active Auth Token)."""

_AUTH_ID = re.compile(r"[MS]A[A-Z0-9]{18}")


def load_auth_token(text: str) -> bytes:
    """The Auth Token as HMAC key bytes; the error never quotes it."""
    if text != text.strip():
        raise ValueError("it has spaces or a line break at either end")
    if not (text.isascii() and text.isprintable()):
        raise ValueError("expected printable ASCII, as Plivo shows the Auth Token")
    if _AUTH_ID.fullmatch(text):
        raise ValueError("this is an Auth ID (MA…/SA…); Plivo signs with the Auth Token")
    return text.encode()


def signed_base(request: SignedRequest) -> str:
    """The URL part of the signed string (before ``.{nonce}``), as plivo-python builds it."""
    if not request.url:
        raise SignatureRejected("the receiver has no public_url: the signed URL is unknown")
    parts = urlsplit(request.url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = sorted(parse_qsl(parts.query, keep_blank_values=True))
    query_text = "&".join(f"{name}={value}" for name, value in query)
    if request.method.upper() == "GET":
        return f"{base}?{query_text}" if query_text else base
    params = "".join(name + value for name, value in sorted(_form_params(request)))
    if query_text:
        return f"{base}?{query_text}" + (f".{params}" if params else "")
    return f"{base}?{params}" if params else base


def _form_params(request: SignedRequest) -> list[tuple[str, str]]:
    if not request.body:
        return []
    if request.content_type != FORM:
        raise SignatureRejected("the body is not signed: Plivo signs form parameters")
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRejected("the form body is not UTF-8") from None
    return parse_qsl(text, keep_blank_values=True)


def plivo_signature(key: bytes, base: str, nonce: str) -> str:
    digest = hmac.new(key, f"{base}.{nonce}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def presented_signatures(request: SignedRequest) -> list[str]:
    """Every signature in ``X-Plivo-Signature-V3`` (required) and ``-Ma-V3``."""
    values = required_header(request, SIGNATURE_HEADER).split(",")
    main_account = request.headers.get(MAIN_ACCOUNT_SIGNATURE_HEADER.lower(), "").strip()
    if main_account:
        values += main_account.split(",")
    signatures = [value.strip() for value in values if value.strip()]
    if len(signatures) > MAX_SIGNATURES:
        raise SignatureRejected(f"more than {MAX_SIGNATURES} signatures in the headers")
    return signatures


def verify_signature(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    receiver: ReceiverContext,
    now: datetime,
) -> None:
    signatures = presented_signatures(request)
    nonce = required_header(request, NONCE_HEADER)
    base = signed_base(request)
    matched = False
    for signature in signatures:  # every one tried: no early exit
        matched |= matches_any(keys, lambda key: plivo_signature(key, base, nonce), signature)
    if not matched:
        raise SignatureRejected(MISMATCH)


def sign_request(
    request: SignedRequest, key: str, receiver: ReceiverContext, now: datetime
) -> SignedRequest:
    """The request as Plivo sends it, with a nonce made from ``now``."""
    nonce = f"{int(now.timestamp() * 1_000_000):020d}"[-20:]
    signature = plivo_signature(load_auth_token(key), signed_base(request), nonce)
    headers = {
        **request.headers,
        SIGNATURE_HEADER.lower(): signature,
        NONCE_HEADER.lower(): nonce,
    }
    return replace(request, headers=headers)


SIGNATURE = SignatureScheme(
    verify=verify_signature,
    sign=sign_request,
    key_kind="Plivo Auth Token",
    load_key=load_auth_token,
    needs_public_url=True,
)

PROVIDER = Provider(
    name="plivo",
    parse=parse,
    samples=(
        SamplePayload(
            # nyaruka/courier handlers/plivo/handler_test.go: an inbound SMS to a short code.
            description="Inbound SMS",
            content_type=FORM,
            body=(
                b"To=2020&From=60124361111&TotalRate=0&Units=1&Text=Hello&TotalAmount=0"
                b"&Type=sms&MessageUUID=abc1234"
            ),
        ),
        SamplePayload(
            # nyaruka/courier handlers/plivo/handler_test.go (its lower-case "status").
            description="Status callback: delivered (POST)",
            content_type=FORM,
            body=b"MessageUUID=12345&status=delivered&To=%2B60124361111&From=2020",
        ),
        SamplePayload(
            # The courier test's callback, one status earlier, as Plivo sends it to a callback
            # URL configured with GET.
            description="Status callback: sent (GET)",
            content_type="",
            body=b"",
            method="GET",
            query="MessageUUID=12345&status=sent&To=%2B60124361111&From=2020",
        ),
    ),
    default_timezone="UTC",
    # Plivo sends international numbers without "+" (60124361111), read without a region.
    default_region=None,
    methods=frozenset({"POST", "GET"}),
    signature=SIGNATURE,
)
