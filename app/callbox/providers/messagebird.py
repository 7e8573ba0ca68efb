"""MessageBird (legacy SMS and MMS REST API) callbacks: status reports and inbound messages.

MessageBird calls the report URL of a message with a GET whose query carries one recipient's
status report (``id``, ``reference``, ``recipient``, ``status``, ``statusDatetime``,
``statusReason``, ``statusErrorCode``, ``mccmnc``, ``price[amount]``...), and forwards inbound
SMS and MMS as a form-encoded POST (``id`` or ``mid``, ``originator``, ``recipient`` or
``shortcode``, ``body`` or ``message``, ``mediaUrls``, ``createdDatetime`` or
``receive_datetime``). Fields are read from the query and a form body alike (a Flow Builder
step may forward either way) and matched case-insensitively; ``status`` makes a status report,
``originator`` an inbound message.

Identity: one MessageBird message id may name a message to many recipients and each recipient
gets its own reports, so Callbox names one outbound message ``f"{id}:{e164 recipient}"``
(``dedupe_key = "receipt:{id}:{recipient}:{status}:{statusDatetime digits}"``). An inbound
message is named by its own id (``mid`` for shortcodes); ``dedupe_key = "inbound:{id}"``.
``statusErrorCode`` 103 means the recipient sent STOP: the report also gives an
:class:`OptOutReported` (``source="status"``, ``dedupe_key = "optout:{id}:{recipient}"``).

Signature (``MessageBird-Signature-JWT``): a JWT signed HS256, HS384 or HS512 with the account's
signing key, claims ``iss`` = ``MessageBird``, ``nbf``, ``exp`` (one minute later), ``jti``,
``url_hash`` = hex SHA-256 of the URL called, query included, and ``payload_hash`` = hex
SHA-256 of the raw body when there is one (messagebird/python-rest-api
``RequestValidator.validate_signature``, whose test vectors ``tests/providers`` replays).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import jwt

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
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
    decode_text,
    optional_str,
    parse_epoch,
    parse_timestamp,
    required_str,
    text_value,
)
from callbox.providers.signatures import require_match, required_header

Fields = Mapping[str, str]

# developers.messagebird.com "SMS Messaging API": a recipient's status.
MESSAGEBIRD_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "scheduled": (Status.PENDING, None),  # to be sent at scheduledDatetime
    "sent": (Status.SENT, None),  # handed to the carrier, no delivery report yet
    "buffered": (Status.SENT, None),  # the carrier holds it: the handset is not reachable yet
    "delivered": (Status.DELIVERED, None),
    "expired": (Status.FAILED, FailureReason.EXPIRED),  # not delivered within its validity
    "delivery_failed": (Status.FAILED, FailureReason.UNKNOWN),  # cause in statusReason/-ErrorCode
}

# statusErrorCode 103: "Contact has sent 'stop'" (nyaruka/courier handlers/messagebird).
STOPPED_ERROR_CODE = "103"

# The fields a status report or an inbound message is made of; the rest goes to metadata.
_REPORT_FIELDS = frozenset({"id", "recipient", "status", "statusdatetime", "reference"})
_INBOUND_FIELDS = frozenset(
    {
        "id",
        "mid",
        "message_id",
        "originator",
        "recipient",
        "receiver",
        "shortcode",
        "body",
        "message",
        "createddatetime",
        "receive_datetime",
        "date_utc",
    }
)
_MEDIA_FIELD = re.compile(r"mediaurls(\[\d*\])?")
_SHORTCODE_TIME = re.compile(r"\d{14}")
_NON_DIGITS = re.compile(r"\D")


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    pairs = callback_fields(request)
    fields = {name.lower(): value for name, value in pairs}
    if "status" in fields:
        return parse_status_report(fields, _metadata(pairs, _REPORT_FIELDS), receiver)
    if "originator" in fields:
        metadata = _metadata(pairs, _INBOUND_FIELDS)
        if media := media_urls(pairs):
            metadata["media_urls"] = media
        return [parse_inbound_message(fields, metadata, receiver)]
    if not pairs:
        raise PayloadRejected(
            "empty callback: expected a status report (query id, recipient, status) or an"
            " inbound message (form originator, recipient, body)"
        )
    names = ", ".join(sorted(fields))
    raise PayloadRejected(
        f"unrecognised MessageBird callback (fields: {names}): expected 'status' (a status"
        " report) or 'originator' (an inbound message)"
    )


def callback_fields(request: InboundRequest) -> list[tuple[str, str]]:
    """The query's parameters, then the form body's, in order (repeated names kept)."""
    pairs = list(request.query.items())
    body = request.body.strip()
    if not body:
        return pairs
    if body[:1] in (b"{", b"[", b"<") or request.content_type.endswith(("json", "xml")):
        raise PayloadRejected(
            "expected a form-encoded body (application/x-www-form-urlencoded) or query"
            f" parameters, got {request.content_type or 'a body'} starting with {body[:1]!r}"
        )
    text = decode_text(request.body)
    try:
        pairs.extend(parse_qsl(text, keep_blank_values=True))
    except ValueError as error:
        raise PayloadRejected(f"invalid form body: {error}") from None
    return pairs


def map_status(value: str) -> tuple[Status, FailureReason | None]:
    """A MessageBird status word to Callbox's status; unknown words are ``UNKNOWN``."""
    return MESSAGEBIRD_STATUSES.get(value.lower(), (Status.UNKNOWN, None))


def parse_status_report(
    fields: Fields, metadata: dict[str, Any], receiver: ReceiverContext
) -> list[Event]:
    message_id = required_str(fields, "id")
    recipient = address(
        required_str(fields, "recipient"), receiver.default_region, field="recipient"
    )
    provider_status = required_str(fields, "status")
    status, failure_reason = map_status(provider_status)
    raw_time = optional_str(fields, "statusdatetime")
    occurred_at = (
        parse_timestamp(raw_time, naive_zone=receiver.timezone, field="statusDatetime")
        if raw_time
        else None
    )
    stopped = optional_str(fields, "statuserrorcode") == STOPPED_ERROR_CODE
    if stopped and status is Status.FAILED:
        failure_reason = FailureReason.BLOCKED
    provider_message_id = f"{message_id}:{recipient}"
    moment = f":{_NON_DIGITS.sub('', raw_time)}" if raw_time else ""
    events: list[Event] = [
        StatusReported(
            dedupe_key=f"receipt:{provider_message_id}:{provider_status}{moment}",
            provider_message_id=provider_message_id,
            channel=Channel.SMS,
            status=status,
            provider_status=provider_status,
            failure_reason=failure_reason,
            occurred_at=occurred_at,
            recipient=recipient,
            reference=optional_str(fields, "reference"),
            metadata=metadata,
        )
    ]
    if stopped:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{provider_message_id}",
                address=recipient,
                channel=Channel.SMS,
                occurred_at=occurred_at,
                source="status",
                provider_message_id=provider_message_id,
            )
        )
    return events


def parse_inbound_message(
    fields: Fields, metadata: dict[str, Any], receiver: ReceiverContext
) -> MessageReceived:
    shortcode = optional_str(fields, "shortcode")
    # Shortcode pushes name the message mid and its text message (courier's handler).
    id_fields = ("mid", "id") if shortcode else ("id", "message_id", "mid")
    message_id = next((value for name in id_fields if (value := optional_str(fields, name))), None)
    if message_id is None:
        raise PayloadRejected("missing required field 'id' (or 'mid' for a shortcode)")
    text_fields = ("message", "body") if shortcode else ("body", "message")
    text = next((value for name in text_fields if (value := text_value(fields, name))), None)
    our_number = shortcode or optional_str(fields, "recipient") or optional_str(fields, "receiver")
    return MessageReceived(
        dedupe_key=f"inbound:{message_id}",
        provider_message_id=message_id,
        channel=Channel.SMS,
        sender=address(
            required_str(fields, "originator"), receiver.default_region, field="originator"
        ),
        recipient=(
            address(our_number, receiver.default_region, field="recipient") if our_number else None
        ),
        body=text,
        occurred_at=received_at(fields, receiver),
        metadata=metadata,
    )


def media_urls(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Every ``mediaUrls``, ``mediaUrls[]`` or ``mediaUrls[N]`` value, in order (MMS)."""
    return [value for name, value in pairs if _MEDIA_FIELD.fullmatch(name.lower()) and value]


def received_at(fields: Fields, receiver: ReceiverContext) -> datetime | None:
    """``createdDatetime`` (ISO 8601), ``receive_datetime`` (shortcodes: ``YYYYmmddHHMMSS``
    without a zone, read in the receiver's timezone) or ``date_utc`` (Unix seconds)."""
    if created := optional_str(fields, "createddatetime"):
        return parse_timestamp(created, naive_zone=receiver.timezone, field="createdDatetime")
    if received := optional_str(fields, "receive_datetime"):
        if _SHORTCODE_TIME.fullmatch(received):
            try:
                naive = datetime.strptime(received, "%Y%m%d%H%M%S")
            except ValueError:
                raise PayloadRejected(f"receive_datetime: not a date: {received!r}") from None
            return naive.replace(tzinfo=receiver.timezone).astimezone(UTC)
        return parse_timestamp(received, naive_zone=receiver.timezone, field="receive_datetime")
    if epoch := optional_str(fields, "date_utc"):
        return parse_epoch(epoch, field="date_utc")
    return None


def _metadata(pairs: Sequence[tuple[str, str]], known: frozenset[str]) -> dict[str, Any]:
    """MessageBird's other fields (mccmnc, price[amount], statusReason, statusErrorCode,
    keyword, subject...) under their own names, when not empty; the last value of a name wins."""
    metadata: dict[str, Any] = {}
    for name, value in pairs:
        folded = name.lower()
        if folded not in known and not _MEDIA_FIELD.fullmatch(folded) and value:
            metadata[name] = value
    return metadata


# --- Signature ---------------------------------------------------------------------------------

SIGNATURE_HEADER = "MessageBird-Signature-JWT"
ISSUER = "MessageBird"
LEEWAY_SECONDS = 1
"""Clock leeway on ``nbf`` and ``exp``, as MessageBird's own validator allows."""
TOKEN_LIFETIME_SECONDS = 60
"""``exp`` - ``nbf`` in the tokens MessageBird signs (and in those ``sign`` makes)."""

HASHES: dict[str, Callable[[], Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}


def load_signing_key(text: str) -> bytes:
    """The signing key from MessageBird's Developer settings (not the API access key)."""
    key = text.strip()
    if not key:
        raise ValueError("the signing key is empty")
    if not key.isascii() or not key.isprintable() or any(char.isspace() for char in key):
        raise ValueError("expected MessageBird's signing key: printable ASCII without spaces")
    return key.encode()


def verify_signature(
    request: SignedRequest, keys: Sequence[SignatureKey], _: ReceiverContext, now: datetime
) -> None:
    token = required_header(request, SIGNATURE_HEADER)
    signing_input, signature, algorithm = _token_parts(token)
    require_match(
        keys, lambda key: hmac.new(key, signing_input, HASHES[algorithm]).digest(), signature
    )
    claims = _claims(token)
    if claims.get("iss") != ISSUER:
        raise SignatureRejected(f"token issuer is not {ISSUER}")
    moment = now.timestamp()
    if moment + LEEWAY_SECONDS < _number_claim(claims, "nbf"):
        raise SignatureRejected("token not valid yet (nbf is in the future)")
    if _number_claim(claims, "exp") <= moment - LEEWAY_SECONDS:
        raise SignatureRejected("token expired (exp is in the past)")
    _check_url_hash(request, claims.get("url_hash"))
    _check_payload_hash(request, claims.get("payload_hash"))


def _token_parts(token: str) -> tuple[bytes, bytes, str]:
    """The signed bytes, the signature and an allowed algorithm of a compact JWS."""
    not_a_jwt = f"{SIGNATURE_HEADER} is not a JWT"
    parts = token.split(".")
    if len(parts) != 3:
        raise SignatureRejected(not_a_jwt)
    try:
        header = jwt.get_unverified_header(token)
        signature = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
    except (jwt.PyJWTError, binascii.Error, ValueError):
        raise SignatureRejected(not_a_jwt) from None
    algorithm = header.get("alg")
    if algorithm not in HASHES:
        raise SignatureRejected(
            f"signing method {str(algorithm)[:20]!r} is not allowed (HS256, HS384 or HS512)"
        )
    return f"{parts[0]}.{parts[1]}".encode("latin-1"), signature, str(algorithm)


def _claims(token: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise SignatureRejected(f"{SIGNATURE_HEADER} claims are not a JSON object") from None
    return dict(claims)


def _number_claim(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignatureRejected(f"token has no numeric {name} claim")
    return float(value)


def _check_url_hash(request: SignedRequest, url_hash: object) -> None:
    if not isinstance(url_hash, str):
        raise SignatureRejected("token has no url_hash claim")
    if not request.url:
        raise SignatureRejected("no public_url to check url_hash against")
    if not hmac.compare_digest(_sha256_hex(_url_bytes(request.url)), url_hash):
        raise SignatureRejected("url_hash does not match the URL (check the receiver's public_url)")


def _check_payload_hash(request: SignedRequest, payload_hash: object) -> None:
    if not request.body:
        if payload_hash:
            raise SignatureRejected("token has a payload_hash but the body is empty")
        return
    if not payload_hash:
        raise SignatureRejected("body present but the token has no payload_hash")
    if not isinstance(payload_hash, str):
        raise SignatureRejected("payload_hash is not text")
    if not hmac.compare_digest(_sha256_hex(request.body), payload_hash):
        raise SignatureRejected("payload_hash does not match the body")


def _url_bytes(url: str) -> bytes:
    # The raw query is kept as latin-1 text of the bytes received; MessageBird's own validator
    # hashes the URL encoded as latin-1 too.
    try:
        return url.encode("latin-1")
    except UnicodeEncodeError:
        return url.encode("utf-8")


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sign_request(
    request: SignedRequest, key: str, _: ReceiverContext, now: datetime
) -> SignedRequest:
    """The request as MessageBird sends it: a fresh HS256 token for its URL and body."""
    not_before = int(now.timestamp())
    url = _url_bytes(request.url)
    jti = uuid.UUID(
        bytes=hashlib.sha256(url + request.body + str(not_before).encode()).digest()[:16]
    )
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "nbf": not_before,
        "exp": not_before + TOKEN_LIFETIME_SECONDS,
        "jti": str(jti),
        "url_hash": _sha256_hex(url),
    }
    if request.body:
        claims["payload_hash"] = _sha256_hex(request.body)
    token = _encode_hs256(claims, load_signing_key(key))
    return SignedRequest(
        method=request.method,
        url=request.url,
        headers={**request.headers, SIGNATURE_HEADER.lower(): token},
        query_string=request.query_string,
        body=request.body,
        content_type=request.content_type,
    )


def _encode_hs256(claims: Mapping[str, Any], key: bytes) -> str:
    # Made by hand rather than jwt.encode, which warns about keys shorter than the hash.
    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = segment(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = segment(json.dumps(dict(claims), separators=(",", ":")).encode())
    signature = hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{segment(signature)}"


SIGNATURE = SignatureScheme(
    verify=verify_signature,
    sign=sign_request,
    key_kind="MessageBird signing key",
    load_key=load_signing_key,
    needs_public_url=True,
)

# nyaruka/courier handlers/messagebird/handler_test.go (the shortcode push given a mid of its
# own: courier's reuses the long-number message's id); the delivered report is the query of
# messagebird/ruby-rest-api examples/signed_request_verification.rb.
STATUS_QUERY = (
    "datacoding=plain&id=b6aae1b5dfb2427a8f7ea6a717ba31a9&mccmnc=310010&messageLength=4"
    "&messagePartCount=1&ported=0&price%5Bamount%5D=0.000&price%5Bcurrency%5D=USD"
    "&recipient=18885551515&reference=019a0719-ac96-7eb9-a837-cac215164834"
    "&statusDatetime=2023-07-28T17%3A57%3A12%2B00%3A00"
)

PROVIDER = Provider(
    name="messagebird",
    parse=parse,
    samples=(
        SamplePayload(
            description="Status report: sent (GET)",
            method="GET",
            content_type="",
            body=b"",
            query=STATUS_QUERY + "&status=sent",
        ),
        SamplePayload(
            description="Status report: delivered (GET)",
            method="GET",
            content_type="",
            body=b"",
            query=(
                "recipient=31612345678&reference=FOO&statusDatetime=2019-01-11T09%3A17%3A11%2B00"
                "%3A00&id=eef0ab57a9e049be946f3821568c2b2e&status=delivered&mccmnc=20408&ported=1"
            ),
        ),
        SamplePayload(
            description="Status report: delivery failed, the recipient sent STOP (GET)",
            method="GET",
            content_type="",
            body=b"",
            query=STATUS_QUERY + "&status=delivery_failed&statusErrorCode=103",
        ),
        SamplePayload(
            description="Inbound SMS to a long number (form POST)",
            content_type="application/x-www-form-urlencoded",
            body=(
                b"receiver=18005551515&body=Test+again&date=1690386569&date_utc=1690418969"
                b"&reference=1&id=b6aae1b5dfb2427a8f7ea6a717ba31a9"
                b"&id=3b53c137369242138120d6b0b2122607&recipient=18005551515"
                b"&originator=18885551515&body=Test+3"
                b"&CreatedDatetime=2023-07-27T00%3A49%3A29%2B00%3A00"
            ),
        ),
        SamplePayload(
            description="Inbound SMS to a shortcode (form POST)",
            content_type="application/x-www-form-urlencoded",
            body=(
                b"shortcode=51515&message=Test+again&date=1690386569&date_utc=1690418969"
                b"&reference=1&id=b6aae1b5dfb2427a8f7ea6a717ba31a9"
                b"&mid=5d2e8a0c41f34b6f9c7e1a2b3c4d5e6f&recipient=18005551515"
                b"&originator=18885551515&body=Test+3&receive_datetime=20230727004929"
            ),
        ),
        SamplePayload(
            description="Inbound MMS with an image (form POST)",
            content_type="application/x-www-form-urlencoded",
            body=(
                b"receiver=18005551515&message=Test+again&date=1690386569&date_utc=1690418969"
                b"&reference=1&id=b6aae1b5dfb2427a8f7ea6a717ba31a9"
                b"&message_id=3b53c137369242138120d6b0b2122607&recipient=18005551515"
                b"&originator=18885551515&mediaURLs=https%3A%2F%2Ffoo.bar%2Fimage.jpg"
                b"&CreatedDatetime=2023-07-27T00%3A49%3A29%2B00%3A00"
            ),
        ),
    ),
    default_timezone="UTC",
    # MessageBird sends numbers in international format without "+" (31612345678).
    default_region=None,
    methods=frozenset({"GET", "POST"}),
    signature=SIGNATURE,
)
