"""SendGrid Event Webhook: a JSON array of e-mail events per POST, signed with ECDSA.

**What SendGrid sends.** ``POST`` with ``Content-Type: application/json``: an array of events,
each an object with ``event`` (processed, deferred, delivered, bounce, dropped, open, click,
spamreport, unsubscribe, group_unsubscribe, group_resubscribe), ``email``, ``timestamp``
(unix seconds), ``sg_event_id`` (unique per event: "use it for deduplication"),
``sg_message_id``, ``smtp-id``, ``category`` and the message's custom arguments as top-level
fields. SendGrid retries a batch not answered 2xx.

**Signature** (receivers with ``auth.signature``: the verification key SendGrid shows for the
signed Event Webhook, base64 DER as shown, or PEM). ``X-Twilio-Email-Event-Webhook-Signature``
is a base64 DER ECDSA P-256 / SHA-256 signature of the ``X-Twilio-Email-Event-Webhook-
Timestamp`` header's bytes followed by the raw body, exactly as received (its trailing CRLF
included: the body is never re-serialised). SendGrid documents no replay window, its SDKs
check none and a retry may carry the first attempt's timestamp, so none is enforced: a replayed
batch is recognised by its events' ``sg_event_id``. SendGrid's keys are public keys: Callbox
cannot sign (``sign`` is None).

**Events.** One report per event of the batch (``kind`` and ``bounce_type`` as in
``SENDGRID_STATUSES``; docs/statuses.md, "SendGrid"):

- processed -> SENT; delivered -> DELIVERED; deferred -> a DEFERRED report (bounce type
  SOFT, SendGrid retries: the message is not ended);
- bounce -> FAILED PERMANENT, bounce type HARD, and an opt-out of the recipient, source
  ``suppression`` (SendGrid adds the address to its bounce list); ``type`` blocked -> FAILED
  BLOCKED, bounce type BLOCKED;
- dropped -> FAILED BLOCKED, bounce type SUPPRESSED (SendGrid did not send it: a suppressed
  address), or as its ``reason`` says (``DROPPED_REASONS``: ``Invalid`` is
  INVALID_RECIPIENT);
- open, click -> OPENED, CLICKED reports (the link in ``detail``): the status is left alone;
- spamreport -> a COMPLAINED report and an opt-out, source ``complaint``; unsubscribe -> an
  UNSUBSCRIBED report and an opt-out, source ``unsubscribe``;
- group_unsubscribe -> an UNSUBSCRIBED report only (leaving one unsubscribe group is not an
  opt-out of everything); group_resubscribe and any event name SendGrid adds: no event (kept
  in the stored batch).

``detail`` is the SMTP ``response`` (a bounce's or drop's ``reason``, a click's ``url``).

**Identity.** ``provider_message_id`` is the ``X-Message-Id`` the send API returned: the part
of ``sg_message_id`` before ``.filter`` (``sg_message_id`` itself when it has no such part,
as for some dropped events), so one send to several recipients is one message with a status
event per recipient; the whole ``sg_message_id`` is kept in metadata. Dedupe keys:
``status:{sg_event_id}``, ``optout:{sg_event_id}``. An opt-out without a message id still
goes to the ledger; any other event without one is rejected.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

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
    InboundRequest,
    JSONValue,
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
    json_kind,
    optional_str,
    parse_epoch,
)
from callbox.providers.signatures import MISMATCH, required_header, unix_time

SENDGRID_STATUSES: dict[
    str, tuple[Status, FailureReason | None, ReportKind, BounceType | None]
] = {
    # Accepted by SendGrid, to be sent.
    "processed": (Status.SENT, None, ReportKind.STATUS, None),
    # The receiving server refused it for now; SendGrid retries (up to 72 hours).
    "deferred": (Status.SENT, None, ReportKind.DEFERRED, BounceType.SOFT),
    "delivered": (Status.DELIVERED, None, ReportKind.STATUS, None),
    # A bounce event of type "bounce": the receiving server refused the address for good.
    "bounce": (Status.FAILED, FailureReason.PERMANENT, ReportKind.STATUS, BounceType.HARD),
    # A bounce event of type "blocked": refused for the sender's sake (reputation, content);
    # SendGrid does not try that message again.
    "blocked": (Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.BLOCKED),
    # Never sent: the address is suppressed (bounced, unsubscribed, reported spam before).
    "dropped": (Status.FAILED, FailureReason.BLOCKED, ReportKind.STATUS, BounceType.SUPPRESSED),
    # Opening and clicking imply delivery (for a message first known from one); neither
    # changes the status.
    "open": (Status.DELIVERED, None, ReportKind.OPENED, None),
    "click": (Status.DELIVERED, None, ReportKind.CLICKED, None),
    "spamreport": (Status.DELIVERED, None, ReportKind.COMPLAINED, None),
    "unsubscribe": (Status.DELIVERED, None, ReportKind.UNSUBSCRIBED, None),
    # Left one unsubscribe group: kept in the history, not an opt-out of everything.
    "group_unsubscribe": (Status.DELIVERED, None, ReportKind.UNSUBSCRIBED, None),
}  # fmt: skip

DROPPED_REASONS: dict[str, tuple[FailureReason, BounceType | None]] = {
    "Invalid": (FailureReason.INVALID_RECIPIENT, None),
    "Invalid SMTPAPI header": (FailureReason.TECHNICAL, None),
    "Recipient List over Package Quota": (FailureReason.BLOCKED, None),
    "Spam Content (if spam checker app enabled)": (FailureReason.BLOCKED, BounceType.BLOCKED),
}
"""A dropped event's ``reason`` that is not a suppressed address (``Bounced Address``,
``Unsubscribed Address``, ``Spam Reporting Address``: BLOCKED, SUPPRESSED)."""

OPT_OUTS: dict[str, OptOutSource] = {
    "spamreport": OptOutSource.COMPLAINT,
    "unsubscribe": OptOutSource.UNSUBSCRIBE,
    # SendGrid puts a hard-bounced address on its bounce list.
    "bounce": OptOutSource.SUPPRESSION,
}
"""Events that are also an opt-out of the recipient, and the opt-out's source."""

_DETAIL_FIELDS: dict[str, str] = {"click": "url", "bounce": "reason", "dropped": "reason"}
"""Where an event's ``detail`` is (``response`` for the others)."""

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

# The documented fields; the others of an event are its message's custom arguments.
_KNOWN_FIELDS = frozenset(
    {
        "email",
        "timestamp",
        "event",
        "sg_event_id",
        "sg_message_id",
        "smtp-id",
        "ip",
        "tls",
        "cert_err",
        "useragent",
        "url",
        "url_offset",
        "asm_group_id",
        "attempt",
        "sg_machine_open",
        "sg_content_type",
    }
)
_KEPT_FIELDS = ("sg_message_id", "smtp-id", "reason", "status", "response", "type")


# --- Parsing -----------------------------------------------------------------------------------


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    batch = decode_json(request.body)
    if not isinstance(batch, list):
        raise PayloadRejected(
            f"expected a JSON array of SendGrid events, got a JSON {json_kind(batch)}"
        )
    if not batch:
        raise PayloadRejected("an empty JSON array: expected at least one SendGrid event")
    events: list[Event] = []
    for index, item in enumerate(batch):
        if not isinstance(item, dict):
            raise PayloadRejected(f"event [{index}]: expected a JSON object, got {_kind(item)}")
        events.extend(parse_event(item, f"event [{index}] ", receiver))
    return events


def parse_event(fields: Mapping[str, Any], where: str, receiver: ReceiverContext) -> list[Event]:
    name = _required(fields, "event", where)
    if name not in SENDGRID_STATUSES:
        return []  # group_resubscribe, new names: kept in the stored batch
    recipient = address(_required(fields, "email", where), None, field=f"{where}email")
    occurred_at = _timestamp(fields, where)
    event_id = _text(fields, "sg_event_id", where) or _fallback_id(fields, name, recipient, where)
    message_id = _message_id(fields, where)
    word = name
    if name == "bounce" and _text(fields, "type", where) == "blocked":
        word = "blocked"
    status, failure_reason, kind, bounce_type = SENDGRID_STATUSES[word]
    if name == "dropped":
        failure_reason, bounce_type = DROPPED_REASONS.get(
            _text(fields, "reason", where) or "",
            (failure_reason or FailureReason.BLOCKED, bounce_type),
        )
    detail = _text(fields, _DETAIL_FIELDS.get(name, "response"), where)
    if name == "group_unsubscribe":
        group = fields.get("asm_group_id")
        detail = f"unsubscribe group {group}" if isinstance(group, int | str) else None
    source = OPT_OUTS.get(word)
    events: list[Event] = []
    if message_id is not None:
        events.append(
            StatusReported(
                dedupe_key=f"status:{event_id}",
                provider_message_id=message_id,
                channel=Channel.EMAIL,
                status=status,
                provider_status=word,
                failure_reason=failure_reason,
                occurred_at=occurred_at,
                recipient=recipient,
                metadata=_metadata(fields, where),
                kind=kind,
                bounce_type=bounce_type,
                detail=detail,
            )
        )
    elif source is None:
        raise PayloadRejected(f"{where}needs sg_message_id (or smtp-id)")
    if source is not None:
        events.append(
            OptOutReported(
                dedupe_key=f"optout:{event_id}",
                address=recipient,
                channel=Channel.EMAIL,
                occurred_at=occurred_at,
                source=source,
                provider_message_id=message_id,
                text=f"{word}: {detail}" if detail else word,
            )
        )
    return events


def _message_id(fields: Mapping[str, Any], where: str) -> str | None:
    """The send API's X-Message-Id: ``sg_message_id`` up to ``.filter``; failing that the
    whole ``sg_message_id``, or ``smtp-id`` without its angle brackets."""
    sg_message_id = _text(fields, "sg_message_id", where)
    if sg_message_id is not None:
        head, found, _ = sg_message_id.partition(".filter")
        return head if found and head else sg_message_id
    smtp_id = _text(fields, "smtp-id", where)
    if smtp_id is None:
        return None
    return smtp_id.strip("<>") or None


def _fallback_id(fields: Mapping[str, Any], name: str, recipient: str, where: str) -> str:
    """Older events may lack ``sg_event_id``: what identifies the event instead."""
    parts = (
        name,
        _text(fields, "sg_message_id", where) or _text(fields, "smtp-id", where) or "",
        recipient,
        _text(fields, "timestamp", where) or "",
    )
    return ":".join(parts)


def _metadata(fields: Mapping[str, Any], where: str) -> dict[str, JSONValue]:
    kept: dict[str, JSONValue] = {}
    for key in _KEPT_FIELDS:
        value = _text(fields, key, where)
        if value is not None:
            kept[key] = value
    category = fields.get("category")
    if isinstance(category, str) or (
        isinstance(category, list) and all(isinstance(item, str) for item in category)
    ):
        kept["category"] = category
    custom = {
        key: value
        for key, value in fields.items()
        if key not in _KNOWN_FIELDS and key not in kept and key != "category"
    }
    for key, value in custom.items():
        # Custom arguments are text; anything else stays in the raw request only.
        if isinstance(value, str):
            kept[key] = value
    return kept


def _kind(value: Any) -> str:
    return f"a JSON {json_kind(value)}"


def _text(fields: Mapping[str, Any], key: str, where: str) -> str | None:
    try:
        return optional_str(fields, key)
    except PayloadRejected:
        raise PayloadRejected(
            f"{where}{key}: expected text, got {_kind(fields.get(key))}"
        ) from None


def _required(fields: Mapping[str, Any], key: str, where: str) -> str:
    value = _text(fields, key, where)
    if value is None:
        raise PayloadRejected(f"{where}needs {key}")
    return value


def _timestamp(fields: Mapping[str, Any], where: str) -> datetime | None:
    value = fields.get("timestamp")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadRejected(f"{where}timestamp: expected unix seconds, got {_kind(value)}")
    return parse_epoch(value, field=f"{where}timestamp")


# --- The signature -----------------------------------------------------------------------------


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER), or PEM."""
    value = text.strip()
    try:
        if value.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(value.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(value, validate=True))
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        raise ValueError(
            "expected the public key SendGrid shows for the signed Event Webhook (base64)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("expected an ECDSA P-256 public key (SendGrid's verification key)")
    return key


def verify(
    request: SignedRequest, keys: Sequence[SignatureKey], _: ReceiverContext, __: datetime
) -> None:
    presented = required_header(request, SIGNATURE_HEADER)
    timestamp = required_header(request, TIMESTAMP_HEADER)
    unix_time(timestamp, TIMESTAMP_HEADER)  # digits only (the signed bytes are the header's)
    try:
        signature = base64.b64decode(presented, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureRejected(f"{SIGNATURE_HEADER} is not base64") from None
    signed = timestamp.encode("latin-1") + request.body
    verified = False
    for key in keys:  # every key is tried (rotation)
        try:
            key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        verified = True
    if not verified:
        raise SignatureRejected(MISMATCH)


SIGNATURE = SignatureScheme(
    verify=verify,
    sign=None,  # public keys: only SendGrid holds the private key
    key_kind="SendGrid Event Webhook verification key",
    load_key=load_public_key,
)


# --- Samples -------------------------------------------------------------------------------------

JSON = "application/json"

# django-anymail's tests (tests/test_sendgrid_webhooks.py) and sendgrid-python's signed test
# vector (test/unit/test_eventwebhook.py), bodies as SendGrid posts them; the batch follows
# one message through the shapes SendGrid documents (its event ids made unique).
SAMPLES = (
    SamplePayload(
        description="Delivered",
        content_type=JSON,
        body=b"""[
  {
    "ip": "167.89.17.173",
    "response": "250 2.0.0 OK 1461095248 m143si2210036ioe.159 - gsmtp ",
    "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
    "sg_event_id": "nOSv8m0eTQ-vxvwNwt3fZQ",
    "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
    "tls": 1,
    "event": "delivered",
    "email": "recipient@example.com",
    "timestamp": 1461095250,
    "anymail_id": "4ab185c2-0171-492f-9ce0-27de258efc99"
  }
]""",
    ),
    SamplePayload(
        description="Bounce (a hard bounce)",
        content_type=JSON,
        body=b"""[
  {
    "ip": "167.89.17.173",
    "status": "5.1.1",
    "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
    "sg_event_id": "lC0Rc-FuQmKbnxCWxX1jRQ",
    "reason": "550 5.1.1 The email account that you tried to reach does not exist.",
    "sg_message_id": "Lli-03HcQ5-JLybO9fXsJg.filter0077p1las1.21536.5717FC482.0",
    "tls": 1,
    "event": "bounce",
    "email": "noreply@example.com",
    "timestamp": 1461095250,
    "anymail_id": "de212213-bb66-4302-8f3f-20acdb7a104e",
    "type": "bounce"
  }
]""",
    ),
    SamplePayload(
        description="Dropped: a previously bounced address",
        content_type=JSON,
        body=b"""[
  {
    "email": "example@example.com",
    "timestamp": 1513299569,
    "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
    "event": "dropped",
    "category": "cat facts",
    "sg_event_id": "zmzJhfJgAfUSOW80yEbPyw==",
    "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
    "reason": "Bounced Address",
    "status": "5.0.0"
  }
]""",
    ),
    SamplePayload(
        description="Dropped: an invalid address",
        content_type=JSON,
        body=b"""[
  {
    "email": "invalid@invalid",
    "anymail_id": "c74002d9-7ccb-4f67-8b8c-766cec03c9a6",
    "timestamp": 1461095250,
    "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
    "sg_event_id": "3NPOePGOTkeM_U3fgWApfg",
    "sg_message_id": "filter0093p1las1.9128.5717FB8127.0",
    "reason": "Invalid",
    "event": "dropped"
  }
]""",
    ),
    SamplePayload(
        description="A batch: processed, delivered, opened, clicked, reported as spam",
        content_type=JSON,
        body=b"""[
  {
    "email": "recipient@example.com",
    "timestamp": 1461095246,
    "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
    "sg_event_id": "ZyjAM5rnQmuI1KFInHQ3Nw",
    "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
    "event": "processed",
    "category": [
      "tag1",
      "tag2"
    ],
    "custom1": "value1",
    "custom2": "value2"
  },
  {
    "email": "recipient@example.com",
    "timestamp": 1461095250,
    "ip": "167.89.17.173",
    "response": "250 2.0.0 OK",
    "sg_event_id": "ZGVsaXZlcmVkLTAtMTA5OTQ5MTktd3JmUlJ2Rjc",
    "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
    "event": "delivered",
    "custom1": "value1"
  },
  {
    "email": "recipient@example.com",
    "timestamp": 1461095250,
    "ip": "66.102.6.229",
    "sg_event_id": "MjIwNDg5NTgtZGE3OC00NDI1LWFiMmMtMDUyZTU2ZmFkOTFm",
    "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
    "useragent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0",
    "event": "open"
  },
  {
    "email": "recipient@example.com",
    "timestamp": 1461095250,
    "ip": "24.130.34.103",
    "sg_event_id": "OTdlOGUzYjctYjc5Zi00OWE4LWE4YWUtNjIxNjk2ZTJlNGVi",
    "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
    "useragent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_4) AppleWebKit/537.36",
    "event": "click",
    "url_offset": {
      "index": 0,
      "type": "html"
    },
    "url": "http://www.example.com"
  },
  {
    "email": "recipient@example.com",
    "timestamp": 1461095251,
    "sg_event_id": "c3BhbXJlcG9ydC0xMDk5NDkxOS1MUnpYbF9OSFN0",
    "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
    "event": "spamreport"
  }
]""",
    ),
    SamplePayload(
        description="Dropped, as signed in SendGrid's SDK test vector (trailing CRLF)",
        content_type=JSON,
        body=b'[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address",'
        b'"sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",'
        b'"sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",'
        b'"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",'
        b'"timestamp":1600112492}]\r\n',
    ),
)

PROVIDER = Provider(
    name="sendgrid",
    parse=parse,
    samples=SAMPLES,
    signature=SIGNATURE,
)
