"""Twilio Programmable Messaging: status callbacks, inbound messages and opt-outs, signed.

What Twilio sends, one event per request ("properties vary and Twilio adds new properties
without notice": every field Callbox does not normalise is kept in metadata):

- a status callback (form POST): ``MessageSid``, ``MessageStatus`` (``SmsStatus`` too),
  ``From``/``To``, ``ErrorCode`` on failed and undelivered messages, ``RawDlrDoneDate``
  (``YYMMDDhhmm`` without a zone, read in the receiver's timezone) on delivery reports
  -> :class:`StatusReported`; ``ErrorCode`` sharpens the failure reason, and 21610 (the
  recipient has opted out) adds an :class:`OptOutReported` with ``source="status"``;
- an inbound message (form POST, or GET when so configured): ``MessageSid``, ``From``,
  ``To``, ``Body``, ``NumMedia`` and ``MediaUrl{N}``/``MediaContentType{N}``,
  ``SmsStatus=received`` -> :class:`MessageReceived`. With Advanced Opt-Out, ``OptOutType``
  (STOP, START, HELP) says the text matched Twilio's keyword lists; STOP and START add an
  :class:`OptOutReported` with ``source="provider"`` (when the store's keyword rule records
  the same text, the ledger keeps one row: ``store/sql/callbox_record_opt_out.sql``);
- Event Streams (a webhook sink): JSON CloudEvents, one object or an array of them, of type
  ``com.twilio.messaging.inbound-message.received`` or ``com.twilio.messaging.message.*``,
  read like the webhooks above; a JSON object with the webhooks' own field names is read
  like a form.

Identity: ``provider_message_id`` is the ``MessageSid``; dedupe keys are
``status:{MessageSid}:{status}``, ``inbound:{MessageSid}`` and ``optout:{MessageSid}``, the
same whether the webhook or Event Streams told us.

Signature (``X-Twilio-Signature``, https://www.twilio.com/docs/usage/security): base64
HMAC-SHA1 with the account's Auth Token over the URL Twilio called (the receiver's
``public_url``, its query included) followed by every POST parameter sorted by name, name
then value (a repeated name: its distinct values sorted). A JSON body is not in the string:
the URL carries ``bodySHA256`` (hex SHA-256 of the body), checked against the body. As
twilio-python does, the URL is tried without an explicit port and with the scheme's default
one. A Webhooks Rule signs with a SharedKey instead and says so in
``X-Twilio-Webhooks-Signature-Settings: key=…,algorithm=HMAC_SHA256``: only the hash
changes; the receiver's ``signature_algorithms`` option says which algorithms it accepts.
There is no timestamp, so no replay window: a replay is recognised by its dedupe key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import parse_qsl

import msgspec

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
    decode_json,
    json_kind,
    optional_str,
    parse_timestamp,
    required_str,
    text_value,
)
from callbox.providers.signatures import MISMATCH, matches_any, required_header

Fields = Mapping[str, Any]

# https://www.twilio.com/docs/messaging/api/message-resource#message-status-values; words are
# matched case-insensitively (Event Streams sends them in capitals).
TWILIO_STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "accepted": (Status.PENDING, None),  # a Messaging Service took it, no sender chosen yet
    "scheduled": (Status.PENDING, None),
    "queued": (Status.PENDING, None),
    "sending": (Status.PENDING, None),  # being dispatched to the carrier, not handed over yet
    "sent": (Status.SENT, None),  # the nearest carrier accepted it
    "delivered": (Status.DELIVERED, None),
    "read": (Status.DELIVERED, None),  # WhatsApp and RCS: reading implies delivery
    "partially_delivered": (Status.SENT, None),  # some parts delivered, not all confirmed
    # The cause is in ErrorCode (ERROR_CODE_REASONS); without a known code it is unknown.
    "undelivered": (Status.FAILED, FailureReason.UNKNOWN),
    "failed": (Status.FAILED, FailureReason.UNKNOWN),
    "canceled": (Status.FAILED, FailureReason.UNKNOWN),  # a scheduled message, cancelled
}

# https://www.twilio.com/docs/api/errors: the codes whose cause is clear enough to name.
ERROR_CODE_REASONS: dict[str, FailureReason] = {
    "30001": FailureReason.TECHNICAL,  # queue overflow
    "30002": FailureReason.BLOCKED,  # account suspended
    "30003": FailureReason.TEMPORARY,  # unreachable destination handset
    "30004": FailureReason.BLOCKED,  # message blocked
    "30005": FailureReason.INVALID_RECIPIENT,  # unknown destination handset
    "30006": FailureReason.INVALID_RECIPIENT,  # landline or unreachable carrier
    "30007": FailureReason.BLOCKED,  # message filtered (carrier violation)
    "30034": FailureReason.BLOCKED,  # US A2P 10DLC: message from an unregistered number
    "21211": FailureReason.INVALID_RECIPIENT,  # invalid 'To' phone number
    "21614": FailureReason.INVALID_RECIPIENT,  # 'To' is not a valid mobile number
    "21610": FailureReason.BLOCKED,  # attempt to send to an unsubscribed recipient
}
OPTED_OUT_ERROR_CODES = frozenset({"21610"})

# The inbound message's own status words (a message to us, not a receipt).
INBOUND_STATUSES = frozenset({"received", "receiving"})

# Advanced Opt-Out's OptOutType; HELP changes nothing in the ledger.
OPT_OUT_TYPES: dict[str, OptOutAction] = {
    "STOP": OptOutAction.OPT_OUT,
    "START": OptOutAction.OPT_IN,
}

# Fields normalised into the event rather than kept in metadata.
_NORMALISED_FIELDS = frozenset(
    {"MessageSid", "SmsSid", "SmsMessageSid", "MessageStatus", "SmsStatus", "From", "To", "Body"}
)
_MEDIA_FIELD = re.compile(r"(MediaUrl|MediaContentType)([0-9]{1,3})")
_CHANNEL_PREFIX = re.compile(r"([a-z]{2,16}):(.+)", re.IGNORECASE | re.DOTALL)
_RAW_DLR_DONE_DATE = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})([0-9]{2})?")

EVENT_STREAMS_INBOUND = "com.twilio.messaging.inbound-message.received"
EVENT_STREAMS_STATUS_PREFIX = "com.twilio.messaging.message."
# Event Streams' camelCase names for the webhook fields read above.
_EVENT_STREAMS_FIELDS = {
    "messageSid": "MessageSid",
    "messageStatus": "MessageStatus",
    "from": "From",
    "to": "To",
    "body": "Body",
    "numMedia": "NumMedia",
    "errorCode": "ErrorCode",
    "rawDlrDoneDate": "RawDlrDoneDate",
}
_MAX_BATCH = 10_000


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    # The format follows the Content-Type, never a sniffed body: the verified bytes (form
    # parameters or a bodySHA256 body) are read the way they were verified.
    if request.content_type.endswith("json"):
        return parse_json(request.body, receiver)
    if request.body.strip():
        fields: Fields = decode_form(request.body)
    elif request.query:
        fields = request.query  # a webhook configured with GET
    else:
        raise PayloadRejected("empty request: expected Twilio's form parameters")
    return parse_webhook(fields, receiver)


def parse_json(body: bytes, receiver: ReceiverContext) -> list[Event]:
    document = decode_json(body)
    if isinstance(document, list):
        if not document:
            raise PayloadRejected("empty JSON array: expected Event Streams CloudEvents")
        if len(document) > _MAX_BATCH:
            raise PayloadRejected(f"more than {_MAX_BATCH} CloudEvents in one request")
        events: list[Event] = []
        for index, item in enumerate(document):
            try:
                events.extend(parse_cloud_event(item, receiver))
            except PayloadRejected as error:
                raise PayloadRejected(f"CloudEvent {index}: {error.reason}") from None
        return events
    if not isinstance(document, dict):
        raise PayloadRejected(f"expected a JSON object or array, got a JSON {json_kind(document)}")
    if "specversion" in document:
        return parse_cloud_event(document, receiver)
    return parse_webhook(document, receiver)


def parse_cloud_event(item: Any, receiver: ReceiverContext) -> list[Event]:
    """One Event Streams CloudEvent, read as the webhook with the same content."""
    if not isinstance(item, dict):
        raise PayloadRejected(f"expected a CloudEvent object, got a JSON {json_kind(item)}")
    kind = required_str(item, "type")
    data = item.get("data")
    if not isinstance(data, dict):
        raise PayloadRejected("CloudEvent 'data' must be an object")
    fields: dict[str, Any] = {
        _EVENT_STREAMS_FIELDS.get(str(key), str(key)): value for key, value in data.items()
    }
    timestamp = optional_str(data, "timestamp")
    at = parse_timestamp(timestamp, field="timestamp") if timestamp else None
    if kind == EVENT_STREAMS_INBOUND:
        fields.pop("MessageStatus", None)
        return parse_inbound_message(fields, receiver, occurred_at=at)
    if kind.startswith(EVENT_STREAMS_STATUS_PREFIX):
        fields.setdefault("MessageStatus", kind.removeprefix(EVENT_STREAMS_STATUS_PREFIX))
        return parse_status_callback(fields, receiver, occurred_at=at)
    raise PayloadRejected(
        f"unsupported Event Streams type {kind[:80]!r}: expected {EVENT_STREAMS_INBOUND} or "
        f"{EVENT_STREAMS_STATUS_PREFIX}*"
    )


def parse_webhook(fields: Fields, receiver: ReceiverContext) -> list[Event]:
    """A status callback or an inbound message, told apart by the status word."""
    word = message_status(fields)
    if word is not None and word.lower() in INBOUND_STATUSES:
        return parse_inbound_message(fields, receiver)
    if word is not None:
        return parse_status_callback(fields, receiver)
    if "Body" in fields or "NumMedia" in fields:
        return parse_inbound_message(fields, receiver)
    raise PayloadRejected(
        "not a Twilio message callback: expected MessageStatus (a status callback) or "
        "Body (an inbound message)"
    )


def message_status(fields: Fields) -> str | None:
    return optional_str(fields, "MessageStatus") or optional_str(fields, "SmsStatus")


def message_sid(fields: Fields) -> str:
    for name in ("MessageSid", "SmsSid", "SmsMessageSid"):
        sid = optional_str(fields, name)
        if sid is not None:
            return sid
    raise PayloadRejected("missing required field 'MessageSid'")


def map_twilio_status(word: str) -> tuple[Status, FailureReason | None]:
    """A status word to Callbox's status; unknown words are ``UNKNOWN``."""
    return TWILIO_STATUSES.get(word.lower(), (Status.UNKNOWN, None))


def parse_status_callback(
    fields: Fields, receiver: ReceiverContext, *, occurred_at: datetime | None = None
) -> list[Event]:
    sid = message_sid(fields)
    word = message_status(fields)
    if word is None:
        raise PayloadRejected("missing required field 'MessageStatus'")
    status, failure_reason = map_twilio_status(word)
    error_code = optional_str(fields, "ErrorCode")
    if status is Status.FAILED and error_code in ERROR_CODE_REASONS:
        failure_reason = ERROR_CODE_REASONS[error_code]
    metadata = collect_metadata(fields)
    recipient = _party(fields, "To", receiver, metadata)
    done = optional_str(fields, "RawDlrDoneDate")
    if done is not None:
        occurred_at = raw_dlr_done_date(done, receiver)
    events: list[Event] = [
        StatusReported(
            dedupe_key=f"status:{sid}:{word.lower()}",
            provider_message_id=sid,
            channel=Channel.SMS,
            status=status,
            provider_status=word,
            failure_reason=failure_reason,
            occurred_at=occurred_at,
            recipient=recipient,
            sender=_party(fields, "From", receiver, metadata),
            metadata=metadata,
        )
    ]
    if status is Status.FAILED and error_code in OPTED_OUT_ERROR_CODES and recipient:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{sid}",
                address=recipient,
                channel=Channel.SMS,
                occurred_at=occurred_at,
                source="status",
                provider_message_id=sid,
                text=f"ErrorCode {error_code}",
            )
        )
    return events


def parse_inbound_message(
    fields: Fields, receiver: ReceiverContext, *, occurred_at: datetime | None = None
) -> list[Event]:
    sid = message_sid(fields)
    metadata = collect_metadata(fields)
    sender = _party(fields, "From", receiver, metadata)
    if sender is None:
        raise PayloadRejected("missing required field 'From'")
    text = text_value(fields, "Body")
    events: list[Event] = [
        MessageReceived(
            dedupe_key=f"inbound:{sid}",
            provider_message_id=sid,
            channel=Channel.SMS,
            sender=sender,
            recipient=_party(fields, "To", receiver, metadata),
            body=text,
            occurred_at=occurred_at,
            provider_status=message_status(fields),
            metadata=metadata,
        )
    ]
    opt_out_type = (optional_str(fields, "OptOutType") or "").upper()
    action = OPT_OUT_TYPES.get(opt_out_type)
    # (A STOP the store's keyword rule also records is one ledger row: see
    # store/sql/callbox_record_opt_out.sql.)
    if action is not None:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{sid}",
                address=sender,
                channel=Channel.SMS,
                occurred_at=occurred_at,
                source="provider",
                opted_in=action is OptOutAction.OPT_IN,
                text=text,
            )
        )
    return events


def raw_dlr_done_date(value: str, receiver: ReceiverContext) -> datetime:
    """``YYMMDDhhmm`` (seconds too when 12 digits), in the receiver's timezone."""
    match = _RAW_DLR_DONE_DATE.fullmatch(value)
    if match is None:
        raise PayloadRejected(f"RawDlrDoneDate: expected YYMMDDhhmm, got {value[:40]!r}")
    year, month, day, hour, minute, second = (int(part or 0) for part in match.groups())
    try:
        local = datetime(2000 + year, month, day, hour, minute, second, tzinfo=receiver.timezone)
    except ValueError:
        raise PayloadRejected(f"RawDlrDoneDate: not a date: {value!r}") from None
    return local.astimezone(UTC)


def _party(
    fields: Fields, name: str, receiver: ReceiverContext, metadata: dict[str, JSONValue]
) -> str | None:
    """``From``/``To`` normalised; a channel prefix (``whatsapp:+1…``) goes to metadata."""
    value = optional_str(fields, name)
    if value is None:
        return None
    prefixed = _CHANNEL_PREFIX.fullmatch(value)
    if prefixed is not None:
        metadata["channel_prefix"] = prefixed.group(1).lower()
        value = prefixed.group(2)
    return address(value, receiver.default_region, field=name)


def collect_metadata(fields: Fields) -> dict[str, JSONValue]:
    """Every field Callbox does not normalise (empty ones left out); media as a list."""
    metadata: dict[str, JSONValue] = {}
    media: dict[int, dict[str, str]] = {}
    for name, value in fields.items():
        if name in _NORMALISED_FIELDS or value is None or value == "":
            continue
        medium = _MEDIA_FIELD.fullmatch(name)
        if medium is not None and isinstance(value, str):
            key = "url" if medium.group(1) == "MediaUrl" else "content_type"
            media.setdefault(int(medium.group(2)), {})[key] = value
            continue
        metadata[name] = value
    if media:
        metadata["media"] = [media[index] for index in sorted(media)]
    return metadata


# --- Signature ------------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"
BODY_HASH_PARAMETER = "bodySHA256"
FORM = "application/x-www-form-urlencoded"

SignatureAlgorithm = Literal["HMAC_SHA1", "HMAC_SHA256"]
_DIGESTS: dict[str, Callable[[], Any]] = {"HMAC_SHA1": hashlib.sha1, "HMAC_SHA256": hashlib.sha256}
_DEFAULT_PORTS = {"https": "443", "http": "80"}
_SID = re.compile(r"(AC|SK)[0-9a-fA-F]{32}")


class TwilioOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """``signature_algorithms``: what a signature may be made with. ``HMAC_SHA1`` (the
    default) is Twilio's own signing with the Auth Token; ``HMAC_SHA256`` a Webhooks Rule
    signing with a SharedKey (announced in ``X-Twilio-Webhooks-Signature-Settings``)."""

    signature_algorithms: tuple[SignatureAlgorithm, ...] = ("HMAC_SHA1",)

    def __post_init__(self) -> None:
        if not self.signature_algorithms:
            raise ValueError("signature_algorithms: give HMAC_SHA1, HMAC_SHA256 or both")


def _options(receiver: ReceiverContext) -> TwilioOptions:
    options = receiver.options
    return options if isinstance(options, TwilioOptions) else TwilioOptions()


def load_auth_token(text: str) -> bytes:
    """The Auth Token (or a SharedKey secret) as HMAC key bytes; the error never quotes it."""
    if text != text.strip():
        raise ValueError("it has spaces or a line break at either end")
    if not (text.isascii() and text.isprintable()):
        raise ValueError("expected printable ASCII, as Twilio shows the Auth Token")
    if _SID.fullmatch(text):
        raise ValueError(
            "this is an Account or API key SID (AC…/SK…); Twilio signs with the Auth Token"
        )
    return text.encode()


def twilio_signature(
    key: bytes, url: str, params: Sequence[tuple[str, str]], algorithm: str = "HMAC_SHA1"
) -> str:
    """base64 HMAC of the URL followed by each parameter name and value, sorted by name (a
    repeated name: its distinct values, sorted), as twilio-python's ``compute_signature``."""
    values: dict[str, set[str]] = {}
    for name, value in params:
        values.setdefault(name, set()).add(value)
    data = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(key, data.encode("utf-8"), _DIGESTS[algorithm]).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL without an explicit port and with the scheme's default one (twilio-python's
    ``remove_port``/``add_port``): Twilio's own signing is not consistent about it."""
    scheme, separator, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    userinfo, at, hostport = netloc.rpartition("@")
    host, port = _split_port(hostport)
    prefix = f"{scheme}{separator}{userinfo}{at}{host}"
    without_port = prefix + tail
    default = _DEFAULT_PORTS.get(scheme.lower())
    with_port = url if port else (f"{prefix}:{default}{tail}" if default else url)
    return list(dict.fromkeys((without_port, with_port)))


def _split_port(hostport: str) -> tuple[str, str]:
    if hostport.startswith("["):  # [2001:db8::1]:8443
        host, _, after = hostport.partition("]")
        return host + "]", after.removeprefix(":")
    host, colon, port = hostport.rpartition(":")
    if colon and port.isdigit():
        return host, port
    return hostport, ""


def signing_algorithm(request: SignedRequest, options: TwilioOptions) -> str:
    """HMAC_SHA1 unless ``X-Twilio-Webhooks-Signature-Settings`` names another; it must be
    one the receiver accepts."""
    settings = request.headers.get(SIGNATURE_SETTINGS_HEADER.lower(), "").strip()
    algorithm = "HMAC_SHA1"
    if settings:
        for part in settings.split(","):
            name, _, value = part.partition("=")
            if name.strip().lower() == "algorithm":
                algorithm = value.strip().upper()
        if algorithm not in _DIGESTS:
            raise SignatureRejected(
                f"unsupported signature algorithm {algorithm[:40]!r} in {SIGNATURE_SETTINGS_HEADER}"
            )
    if algorithm not in options.signature_algorithms:
        accepted = ", ".join(options.signature_algorithms)
        raise SignatureRejected(
            f"signature algorithm {algorithm} is not accepted by this receiver "
            f"(signature_algorithms: {accepted})"
        )
    return algorithm


def signed_params(request: SignedRequest) -> list[tuple[str, str]]:
    """The POST parameters in the signed string. A body announced by ``bodySHA256`` in the
    (signed) URL must hash to it and is then not in the string; any other body must be
    form parameters, or it would be unsigned."""
    announced = [value for name, value in request.query_params() if name == BODY_HASH_PARAMETER]
    if announced:
        actual = hashlib.sha256(request.body).hexdigest().encode()
        if not hmac.compare_digest(actual, announced[0].encode()):
            raise SignatureRejected(f"body does not match {BODY_HASH_PARAMETER}")
        return []
    if not request.body:
        return []
    if request.content_type != FORM:
        raise SignatureRejected(
            "the body is not signed: Twilio signs form parameters, or a JSON body through "
            f"{BODY_HASH_PARAMETER} in the URL"
        )
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureRejected("the form body is not UTF-8") from None
    return parse_qsl(text, keep_blank_values=True)


def verify_signature(
    request: SignedRequest,
    keys: Sequence[SignatureKey],
    receiver: ReceiverContext,
    now: datetime,
) -> None:
    presented = required_header(request, SIGNATURE_HEADER)
    algorithm = signing_algorithm(request, _options(receiver))
    if not request.url:
        raise SignatureRejected("the receiver has no public_url: the signed URL is unknown")
    params = signed_params(request)

    def expected_at(url: str) -> Callable[[SignatureKey], str]:
        return lambda key: twilio_signature(key, url, params, algorithm)

    matched = False
    for url in url_variants(request.url):  # every variant tried: no early exit
        matched |= matches_any(keys, expected_at(url), presented)
    if not matched:
        raise SignatureRejected(MISMATCH)


def sign_request(
    request: SignedRequest, key: str, receiver: ReceiverContext, now: datetime
) -> SignedRequest:
    """The request as Twilio sends it: a JSON body announced by ``bodySHA256``, signed with
    the receiver's first accepted algorithm."""
    algorithm = _options(receiver).signature_algorithms[0]
    if request.body and request.content_type != FORM:
        announced = f"{BODY_HASH_PARAMETER}={hashlib.sha256(request.body).hexdigest()}"
        query = f"{request.query_string}&{announced}" if request.query_string else announced
        base = request.url.split("?", 1)[0]
        request = replace(request, query_string=query, url=f"{base}?{query}")
    signature = twilio_signature(
        load_auth_token(key), request.url, signed_params(request), algorithm
    )
    headers = {**request.headers, SIGNATURE_HEADER.lower(): signature}
    if algorithm != "HMAC_SHA1":
        headers[SIGNATURE_SETTINGS_HEADER.lower()] = f"key=KS-callbox,algorithm={algorithm}"
    return replace(request, headers=headers)


SIGNATURE = SignatureScheme(
    verify=verify_signature,
    sign=sign_request,
    key_kind="Twilio Auth Token or SharedKey secret",
    load_key=load_auth_token,
    needs_public_url=True,
)


PROVIDER = Provider(
    name="twilio",
    parse=parse,
    samples=(
        SamplePayload(
            # Twilio docs, "Track the Message Status of Outbound Messages".
            description="Status callback: sent",
            content_type=FORM,
            body=(
                b"AccountSid=ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx&From=%2B15017250604"
                b"&MessageSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&MessageStatus=sent"
                b"&SmsSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&SmsStatus=sent"
            ),
        ),
        SamplePayload(
            # The parameters of a real inbound SMS to a Dutch number, captured by the nuntius
            # gem, posted as Twilio posts them.
            description="Inbound SMS",
            content_type=FORM,
            body=(
                b"ToCountry=NL&ToState=&SmsMessageSid=SMb711289e438f577f230f5837e9c74a08"
                b"&NumMedia=0&ToCity=&FromZip=&SmsSid=SMb711289e438f577f230f5837e9c74a08"
                b"&FromState=&SmsStatus=received&FromCity=&Body=St&FromCountry=NL"
                b"&To=%2B3197014204768&MessagingServiceSid=MG790b6bd09f119b54ffb7f03b8841b1c9"
                b"&ToZip=&NumSegments=1&MessageSid=SMb711289e438f577f230f5837e9c74a08"
                b"&AccountSid=ACf54dd7a47a8011d65b54d472a7190549&From=%2B31612345678"
                b"&ApiVersion=2010-04-01"
            ),
        ),
        SamplePayload(
            # Twilio docs, Event Streams "Inbound Message Received" (a webhook sink).
            description="Event Streams: inbound message received (CloudEvent)",
            content_type="application/json",
            body=b"""{
  "specversion" : "1.0",
  "type" : "com.twilio.messaging.inbound-message.received",
  "source" : "AB00000000000000000000000001",
  "id" : "NO00000000000000000000000001",
  "dataschema" : "https://events-schemas.twilio.com/Messaging.InboundMessageV1/6",
  "datacontenttype" : "2025-10-08T07:17:02.363Z",
  "data" : {
    "messageSid" : "SM0000000000000000000000000000001",
    "timestamp" : "2025-01-01T00:00:00.000Z",
    "accountSid" : "AC0000000000000000000000000000001",
    "eventName" : "com.twilio.messaging.inbound-message.received",
    "from" : "+11234567890",
    "to" : "+12345678901",
    "numMedia" : 0,
    "body" : "Ahoy!",
    "toCountry" : "US",
    "toState" : "FL",
    "toCity" : "FORT MEADE",
    "toZip" : "33841",
    "fromCountry" : "US",
    "fromState" : "NH",
    "fromCity" : "NASHUA",
    "fromZip" : "03049",
    "mnc" : "090",
    "mcc" : "310",
    "messagingServiceSid" : "MG0000000000000000000000000000001"
  }
}""",
        ),
    ),
    options_type=TwilioOptions,
    default_timezone="UTC",
    # Twilio sends E.164 numbers; a receiver may still set default_region.
    default_region=None,
    methods=frozenset({"POST", "GET"}),
    signature=SIGNATURE,
)
