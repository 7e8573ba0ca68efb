"""Telnyx: Ed25519 signatures as telnyx-python verifies them, and API v2 message events.

The signature vectors follow telnyx-python: ``lib/webhook_verification.py`` (headers
``telnyx-signature-ed25519`` and ``telnyx-timestamp``, signed bytes ``timestamp|raw body``,
a base64 32-byte public key, 300 s tolerance) and ``tests/test_webhook.py`` (its
``DUMMY_WEBHOOK_PAYLOAD`` and its ``signer`` fixture, which signs with PyNaCl's SigningKey; the
same Ed25519 signature is made here with ``cryptography``). The frozen vector uses the key
pair of RFC 8032's first test vector, so its public key is checkable without our code.
"""

from __future__ import annotations

import base64
import json
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    PayloadRejected,
    ReceiverContext,
    SignatureRejected,
    SignedRequest,
    StatusReported,
)
from callbox.providers.telnyx import PROVIDER, SAMPLES, load_public_key, parse
from callbox.receivers import ReadyReceiver, prepare_receiver
from callbox.settings import Auth, ConfigError, Receiver, settings_from_mapping
from tests.providers.contract import parse_sample

RECEIVER = ReceiverContext(name="telnyx")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "telnyx.md"

# telnyx-python tests/test_webhook.py, DUMMY_WEBHOOK_PAYLOAD (verbatim).
DUMMY_WEBHOOK_PAYLOAD = b"""{
    "record_type": "event",
    "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",
    "event_type": "call_initiated",
    "created_at": "2018-02-02T22:25:27.521992Z",
    "payload": {
        "to": "+13129457420",
        "start_time": "2018-02-02T22:25:27.521992Z",
        "occurred_at": "2018-02-02T22:25:27.521992Z",
        "from": "+35319605860",
        "call_control_id": "AgDIxmoRX6QMuaIj_uXRXnPAXP0QlNfXczRrZvZakpWxBlpw48KyZQ==",
        "connection_id": "7267xxxxxxxxxxxxxx",
        "call_leg_id": "428c31b6-7af4-4bcb-b7f5-5013ef9657c1",
        "call_session_id": "428c31b6-abf3-3bc1-b7f4-5013ef9657c1",
        "client_state": "aGF2ZSBhIG5pY2UgZGF5ID1d",
        "direction": "incoming",
        "state": "parked"
    }
}"""

# RFC 8032 section 7.1, TEST 1: the secret key and its public key.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_PUBLIC_BASE64 = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
# The payload above signed at 1517610327 (its created_at, 2018-02-02T22:25:27Z) with that key.
FROZEN_TIMESTAMP = "1517610327"
FROZEN_SIGNATURE = (
    "YcrhY6bxA5YaGqF0HFlrf9OFcrfkyxQF9n0mqWEewfvcUhKiGhGWqfYliKUC3CRePGHOmzH6tcGV1pGfXWygBA=="
)
FROZEN_NOW = datetime(2018, 2, 2, 22, 25, 27, tzinfo=UTC)

NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def public_base64(private: Ed25519PrivateKey) -> str:
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return base64.b64encode(raw).decode()


def sdk_signer(private: Ed25519PrivateKey, payload: bytes, timestamp: str) -> str:
    """telnyx-python's ``signer`` fixture: base64 of the signature of ``timestamp|payload``."""
    return base64.b64encode(private.sign(timestamp.encode() + b"|" + payload)).decode()


def request(body: bytes, headers: dict[str, str]) -> SignedRequest:
    return SignedRequest(
        method="POST",
        url="",
        headers={"content-type": "application/json", **headers},
        query_string="",
        body=body,
        content_type="application/json",
    )


def signed(body: bytes, private: Ed25519PrivateKey, at: datetime = NOW) -> SignedRequest:
    timestamp = str(int(at.timestamp()))
    return request(
        body,
        {
            "telnyx-signature-ed25519": sdk_signer(private, body, timestamp),
            "telnyx-timestamp": timestamp,
        },
    )


def verify(signed_request: SignedRequest, *public_keys: str, now: datetime = NOW) -> None:
    keys = [load_public_key(key) for key in public_keys]
    assert PROVIDER.signature is not None
    PROVIDER.signature.verify(signed_request, keys, RECEIVER, now)


def refusal(signed_request: SignedRequest, *public_keys: str, now: datetime = NOW) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(signed_request, *public_keys, now=now)
    return caught.value.reason


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# --- The frozen vector -----------------------------------------------------------------------


def frozen_request(**changes: Any) -> SignedRequest:
    headers = {"telnyx-signature-ed25519": FROZEN_SIGNATURE, "telnyx-timestamp": FROZEN_TIMESTAMP}
    headers.update(changes.pop("headers", {}))
    return request(changes.pop("body", DUMMY_WEBHOOK_PAYLOAD), headers)


def test_the_rfc8032_key_is_read_as_the_rfc_gives_it() -> None:
    key = load_public_key(RFC8032_PUBLIC_BASE64)
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw.hex() == RFC8032_PUBLIC_HEX
    derived = Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)
    assert public_base64(derived) == RFC8032_PUBLIC_BASE64


def test_frozen_vector_is_accepted() -> None:
    verify(frozen_request(), RFC8032_PUBLIC_BASE64, now=FROZEN_NOW)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"body": DUMMY_WEBHOOK_PAYLOAD.replace(b"parked", b"parkee")}, id="body"),
        pytest.param({"body": DUMMY_WEBHOOK_PAYLOAD + b"\n"}, id="trailing-newline"),
        pytest.param({"headers": {"telnyx-timestamp": "1517610328"}}, id="timestamp"),
        pytest.param(
            {"headers": {"telnyx-signature-ed25519": "A" + FROZEN_SIGNATURE[1:]}}, id="signature"
        ),
    ],
)
def test_frozen_vector_tampered_is_refused(changes: dict[str, Any]) -> None:
    reason = refusal(frozen_request(**changes), RFC8032_PUBLIC_BASE64, now=FROZEN_NOW)
    assert reason == "signature does not match"


def test_frozen_vector_is_too_old_now() -> None:
    assert refusal(frozen_request(), RFC8032_PUBLIC_BASE64) == "timestamp outside the 300 s window"


# --- As telnyx-python's own tests sign ------------------------------------------------------


def test_sdk_signed_payload_is_accepted(private_key: Ed25519PrivateKey) -> None:
    verify(signed(DUMMY_WEBHOOK_PAYLOAD, private_key), public_base64(private_key))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.description)
def test_every_sample_signed_is_accepted(sample: Any, private_key: Ed25519PrivateKey) -> None:
    verify(signed(sample.body, private_key), public_base64(private_key))


def test_another_accounts_key_is_refused(private_key: Ed25519PrivateKey) -> None:
    other = public_base64(Ed25519PrivateKey.generate())
    assert refusal(signed(DUMMY_WEBHOOK_PAYLOAD, private_key), other) == "signature does not match"


def test_a_rotated_key_second_in_the_list_verifies(private_key: Ed25519PrivateKey) -> None:
    old = public_base64(Ed25519PrivateKey.generate())
    verify(signed(DUMMY_WEBHOOK_PAYLOAD, private_key), old, public_base64(private_key))


def test_no_key_verifies_nothing(private_key: Ed25519PrivateKey) -> None:
    assert refusal(signed(DUMMY_WEBHOOK_PAYLOAD, private_key)) == "signature does not match"


@pytest.mark.parametrize(
    ("seconds", "accepted"),
    [(-301, False), (-300, True), (0, True), (299, True), (301, False)],
)
def test_the_timestamp_must_be_within_300_seconds(
    private_key: Ed25519PrivateKey, seconds: int, accepted: bool
) -> None:
    """telnyx-python refuses ``abs(now - timestamp) > 300``: too old and too new alike."""
    at = NOW + timedelta(seconds=seconds)
    signed_request = signed(DUMMY_WEBHOOK_PAYLOAD, private_key, at)
    if accepted:
        verify(signed_request, public_base64(private_key))
    else:
        reason = refusal(signed_request, public_base64(private_key))
        assert reason == "timestamp outside the 300 s window"


@pytest.mark.parametrize("header", ["telnyx-signature-ed25519", "telnyx-timestamp"])
def test_a_missing_header_is_named(private_key: Ed25519PrivateKey, header: str) -> None:
    complete = signed(DUMMY_WEBHOOK_PAYLOAD, private_key)
    headers = {name: value for name, value in complete.headers.items() if name != header}
    reason = refusal(request(DUMMY_WEBHOOK_PAYLOAD, headers), public_base64(private_key))
    assert reason == f"missing {header} header"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"telnyx-signature-ed25519": "not base64!"}, "telnyx-signature-ed25519 is not base64"),
        ({"telnyx-signature-ed25519": "\u00e9t\u00e9"}, "telnyx-signature-ed25519 is not base64"),
        (
            {"telnyx-signature-ed25519": base64.b64encode(b"x" * 63).decode()},
            "telnyx-signature-ed25519 is not a 64-byte signature",
        ),
        ({"telnyx-timestamp": "yesterday"}, "telnyx-timestamp is not a unix timestamp"),
        ({"telnyx-timestamp": "-1764504000"}, "telnyx-timestamp is not a unix timestamp"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(
    private_key: Ed25519PrivateKey, headers: dict[str, str], reason: str
) -> None:
    complete = signed(DUMMY_WEBHOOK_PAYLOAD, private_key)
    broken = request(DUMMY_WEBHOOK_PAYLOAD, {**complete.headers, **headers})
    assert refusal(broken, public_base64(private_key)) == reason


def test_a_field_added_in_transit_is_refused(private_key: Ed25519PrivateKey) -> None:
    body = SAMPLES[1].body
    original = signed(body, private_key)
    document = json.loads(body)
    document["data"]["payload"]["to"].append({"phone_number": "+15005550006", "status": "sent"})
    changed = request(json.dumps(document).encode(), dict(original.headers))
    assert refusal(changed, public_base64(private_key)) == "signature does not match"


@pytest.mark.parametrize(
    "reencode",
    [
        pytest.param(lambda document: json.dumps(document).encode(), id="compact-json"),
        pytest.param(lambda document: json.dumps(document, indent=4).encode(), id="re-indented"),
        pytest.param(
            lambda document: json.dumps(document, ensure_ascii=False).encode(), id="unescaped"
        ),
    ],
)
def test_a_body_re_encoded_by_a_proxy_is_refused(
    private_key: Ed25519PrivateKey, reencode: Any
) -> None:
    """The same JSON document in other bytes: Telnyx signed the bytes, not the document."""
    body = SAMPLES[0].body
    original = signed(body, private_key)
    reencoded = reencode(json.loads(body))
    assert reencoded != body and json.loads(reencoded) == json.loads(body)
    changed = request(reencoded, dict(original.headers))
    assert refusal(changed, public_base64(private_key)) == "signature does not match"


# --- Keys ------------------------------------------------------------------------------------


def test_the_scheme_verifies_only_telnyx_can_sign() -> None:
    scheme = PROVIDER.signature
    assert scheme is not None
    assert scheme.sign is None  # a public key cannot sign
    assert scheme.needs_public_url is False  # the URL is not signed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not base64 at all!", "not base64 (copy the public key from the Telnyx portal)"),
        ("cl\u00e9 publique", "not base64 (copy the public key from the Telnyx portal)"),
        (base64.b64encode(b"k" * 31).decode(), "expected 32 bytes once decoded, got 31"),
        (
            # The same key as SubjectPublicKeyInfo DER: Telnyx gives the raw 32 bytes.
            base64.b64encode(
                load_public_key(RFC8032_PUBLIC_BASE64).public_bytes(
                    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            ).decode(),
            "expected 32 bytes once decoded, got 44",
        ),
    ],
)
def test_a_key_that_is_not_a_telnyx_public_key_is_a_config_error(text: str, problem: str) -> None:
    receiver = Receiver(name="telnyx", provider="telnyx", auth=Auth(signature=[text]))
    with pytest.raises(ConfigError) as caught:
        prepare_receiver(receiver, 0)
    assert str(caught.value) == (
        f"receivers[0].auth.signature[0]: not a Telnyx public key (base64 Ed25519): {problem}"
    )


def test_a_configured_key_is_loaded_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", f" {RFC8032_PUBLIC_BASE64}\n")
    receiver = Receiver(
        name="telnyx", provider="telnyx", auth=Auth(signature=["env:TELNYX_PUBLIC_KEY"])
    )
    ready = prepare_receiver(receiver, 0)
    assert ready.verifies_signatures
    verify_ready(ready, frozen_request(), FROZEN_NOW)


# --- Parsing ---------------------------------------------------------------------------------


def post(document: Any) -> InboundRequest:
    return InboundRequest(
        method="POST", body=json.dumps(document).encode(), content_type="application/json"
    )


def reject_reason(document: Any) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(post(document), RECEIVER)
    return caught.value.reason


def event(event_type: str, **payload: Any) -> dict[str, Any]:
    return {
        "data": {
            "record_type": "event",
            "id": "e-1",
            "event_type": event_type,
            "occurred_at": "2026-11-30T12:00:00.000+00:00",
            "payload": {
                "id": "40318f29-5c3f-4689-aa8a-4f41c6d49178",
                "from": {"phone_number": "+19012375438"},
                "text": "Your code is 1234",
                **payload,
            },
        },
        "meta": {"attempt": 1},
    }


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_inbound_message_sample() -> None:
    assert parse_sample(PROVIDER, SAMPLES[0]) == [
        MessageReceived(
            dedupe_key="inbound:7ee4241c-f127-47e5-9c34-3aac291f8058",
            provider_message_id="7ee4241c-f127-47e5-9c34-3aac291f8058",
            channel=Channel.SMS,
            sender="+18665550001",
            recipient="+18445550001",
            body="Hello, World!",
            occurred_at=utc("2019-01-23T18:10:02.574"),
            metadata={
                "type": "SMS",
                "subject": "From Telnyx!",
                "cost": {"amount": "0.0051", "currency": "USD"},
                "parts": 1,
                "encoding": "GSM-7",
                "tags": ["Greetings"],
                "messaging_profile_id": "0f512bda-ae1e-4597-8e11-e5f5686b97d3",
                "organization_id": "b448f9cc-a842-4784-98e9-03c1a5872950",
                "event_id": "bf6307bd-884d-4c1f-b6ea-c62b8c495d3c",
            },
        )
    ]


def test_message_sent_sample_with_from_as_a_string() -> None:
    assert parse_sample(PROVIDER, SAMPLES[1]) == [
        StatusReported(
            dedupe_key="status:403171cc-e25d-45cc-96b2-f3c54cfc3747:+18005550199:sent",
            provider_message_id="403171cc-e25d-45cc-96b2-f3c54cfc3747",
            channel=Channel.SMS,
            status=Status.SENT,
            provider_status="sent",
            failure_reason=None,
            occurred_at=utc("2020-04-30T20:58:39.421"),
            recipient="+18005550199",
            sender="+18005550100",
            body="Hello, World!",
            created_at=utc("2020-04-30T20:58:39.342"),
            sent_at=utc("2020-04-30T20:58:39.421"),
            metadata={
                "type": "SMS",
                "parts": 1,
                "encoding": "GSM-7",
                "messaging_profile_id": "3edefe37-7f02-4b71-b2a6-64a65ac29e8d",
                "organization_id": "d63fjl62-0003-4dab-7832-29b7b22628d8",
                "valid_until": "2020-04-30T21:58:39.342+00:00",
                "event_id": "1f1243a9-93a5-48d1-bf4b-d680b03565a0",
                "carrier": "OMNIPOINT COMMUNICATIONS MIDWEST OPERATIONS LLC",
                "line_type": "Wireless",
            },
        )
    ]


def test_rcs_finalized_sample_names_the_agent_and_reads_body_text() -> None:
    (status,) = parse_sample(PROVIDER, SAMPLES[2])
    assert isinstance(status, StatusReported)
    assert (status.provider_message_id, status.status, status.provider_status) == (
        "ac012cbf-5e09-46af-a69a-7c0e2d90993c",
        Status.DELIVERED,
        "delivered",
    )
    assert (status.sender, status.recipient, status.body) == (
        "e4448a5c0670c2a9",
        "+13125000000",
        "Hello there!",
    )
    assert status.occurred_at == utc("2024-12-09T21:32:14.148")
    assert status.metadata["type"] == "RCS"
    assert status.metadata["body"] == {"text": "Hello there!"}


def test_a_group_message_is_one_status_per_recipient() -> None:
    document = event(
        "message.finalized",
        to=[
            {"phone_number": "+13125550001", "status": "delivered"},
            {"phone_number": "+13125550002", "status": "delivery_failed"},
        ],
        cc=[{"phone_number": "+13125550003", "status": "delivered", "carrier": "T-MOBILE"}],
        errors=[],
    )
    events = parse(post(document), RECEIVER)
    message_id = "40318f29-5c3f-4689-aa8a-4f41c6d49178"
    assert [
        (e.provider_message_id, e.recipient, e.status, e.failure_reason, e.dedupe_key)
        for e in events
        if isinstance(e, StatusReported)
    ] == [
        (
            f"{message_id}:+13125550001",
            "+13125550001",
            Status.DELIVERED,
            None,
            f"status:{message_id}:+13125550001:delivered",
        ),
        (
            f"{message_id}:+13125550002",
            "+13125550002",
            Status.FAILED,
            FailureReason.UNKNOWN,
            f"status:{message_id}:+13125550002:delivery_failed",
        ),
        (
            f"{message_id}:+13125550003",
            "+13125550003",
            Status.DELIVERED,
            None,
            f"status:{message_id}:+13125550003:delivered",
        ),
    ]
    assert events[2].metadata["carrier"] == "T-MOBILE"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("queued", None, (Status.PENDING, None)),
        ("sending", None, (Status.PENDING, None)),
        ("sent", None, (Status.SENT, None)),
        ("delivered", None, (Status.DELIVERED, None)),
        ("DELIVERED", None, (Status.DELIVERED, None)),
        ("delivery_unconfirmed", None, (Status.UNKNOWN, None)),
        ("sending_failed", None, (Status.FAILED, FailureReason.TECHNICAL)),
        ("delivery_failed", None, (Status.FAILED, FailureReason.UNKNOWN)),
        ("delivery_failed", "40008", (Status.FAILED, FailureReason.UNKNOWN)),
        ("delivery_failed", "40300", (Status.FAILED, FailureReason.BLOCKED)),
        ("delivery_failed", 40001, (Status.FAILED, FailureReason.INVALID_RECIPIENT)),
        ("delivery_failed", "40006", (Status.FAILED, FailureReason.TEMPORARY)),
        ("expired", None, (Status.FAILED, FailureReason.EXPIRED)),
        ("expired", "40014", (Status.FAILED, FailureReason.EXPIRED)),
        ("delivered", "40300", (Status.DELIVERED, None)),  # a code never makes a failure
        ("webhook_delivered", None, (Status.UNKNOWN, None)),
    ],
)
def test_status_words_and_error_codes(
    status: str, code: str | int | None, expected: tuple[Status, FailureReason | None]
) -> None:
    errors = [] if code is None else [{"code": code, "title": "Blocked due to STOP message"}]
    document = event(
        "message.finalized", to=[{"phone_number": "+13125550001", "status": status}], errors=errors
    )
    (report,) = parse(post(document), RECEIVER)
    assert isinstance(report, StatusReported)
    assert (report.status, report.failure_reason) == expected
    assert report.provider_status == status
    if code is not None:
        assert report.metadata["errors"] == errors


def test_rcs_read_receipt_is_delivered() -> None:
    document = event("message.read", to=[{"phone_number": "+13125000000", "status": "read"}])
    (report,) = parse(post(document), RECEIVER)
    assert isinstance(report, StatusReported)
    assert (report.status, report.provider_status) == (Status.DELIVERED, "read")


def test_rcs_inbound_text_to_an_agent() -> None:
    document = event(
        "message.received",
        to=[{"agent_id": "e4448a5c0670c2a9", "agent_name": "My RCS Agent"}],
        body={"text": "Hello from Telnyx!"},
        type="RCS",
    )
    del document["data"]["payload"]["text"]
    (message,) = parse(post(document), RECEIVER)
    assert isinstance(message, MessageReceived)
    assert (message.sender, message.recipient, message.body) == (
        "+19012375438",
        "e4448a5c0670c2a9",
        "Hello from Telnyx!",
    )
    assert message.occurred_at == utc("2026-11-30T12:00:00")


def test_an_inbound_stop_is_an_inbound_message() -> None:
    """The store's keyword rule records the opt-out, as for every provider."""
    document = event(
        "message.received", text="STOP", to=[{"phone_number": "+18445550001"}], direction="inbound"
    )
    (message,) = parse(post(document), RECEIVER)
    assert isinstance(message, MessageReceived)
    assert (message.body, message.sender) == ("STOP", "+19012375438")


def test_api_v1_webhooks_are_refused_with_a_reason() -> None:
    # The legacy v1 webhook of the "Messaging migration" guide.
    legacy = {
        "type": "SMS",
        "sms_id": "403171cc-e934-4978-bada-2701bbdb69e7",
        "to": "+18005550199",
        "from": "+18005550100",
        "direction": "outbound",
        "status": "sent",
        "body": {"text": "Hello, World!"},
    }
    assert reject_reason(legacy) == (
        "Telnyx API v1 webhook (sms_id): Callbox reads API v2; set the messaging profile's"
        " webhook API version to 2"
    )


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"event_type": "message.sent"}, "not a Telnyx webhook: expected an object 'data'"),
        ({"data": {"payload": {}}}, "missing required field 'data.event_type'"),
        ({"data": {"event_type": "message.sent"}}, "missing required object 'data.payload'"),
        (
            event("call.initiated"),
            "unsupported Telnyx event_type 'call.initiated': expected message.received,"
            " message.sent, message.finalized or message.read",
        ),
        (event("message.sent", id=None), "missing required field 'data.payload.id'"),
        (event("message.sent", to=[]), "'data.payload.to' lists no recipient"),
        (
            event("message.sent", to="+13125550001"),
            "'data.payload.to' must be a list of objects, got a JSON string",
        ),
        (
            event("message.sent", to=[{"phone_number": "+13125550001"}]),
            "missing required field 'data.payload.to[0].status'",
        ),
        (
            event("message.sent", to=[{"status": "sent"}]),
            "missing required field 'data.payload.to[0].phone_number'",
        ),
        (
            event("message.received", **{"from": None}),
            "missing required field 'data.payload.from' (a phone number)",
        ),
        (
            event("message.received", **{"from": 13125550001}),
            "'data.payload.from': expected an object or text, got a JSON number",
        ),
        (
            event("message.sent", to=[{"phone_number": "+1", "status": "sent"}], sent_at="soon"),
            "sent_at: not a timestamp: 'soon'",
        ),
    ],
)
def test_malformed_events_are_rejected_with_a_reason(document: Any, reason: str) -> None:
    assert reject_reason(document) == reason


# --- docs/telnyx.md ----------------------------------------------------------------------------


def test_the_documented_receiver_verifies_telnyx_requests(
    monkeypatch: pytest.MonkeyPatch, private_key: Ed25519PrivateKey
) -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    monkeypatch.setenv("TELNYX_PUBLIC_KEY", public_base64(private_key))
    (receiver,) = settings_from_mapping(tomllib.loads(block)).receivers
    ready = prepare_receiver(receiver, 0)
    verify_ready(ready, signed(SAMPLES[0].body, private_key, NOW), NOW)
    with pytest.raises(SignatureRejected):
        verify_ready(ready, signed(SAMPLES[0].body, Ed25519PrivateKey.generate(), NOW), NOW)


def verify_ready(ready: ReadyReceiver, request: SignedRequest, now: datetime) -> None:
    """The receiver's keys through its provider's pure check (``ReadyReceiver.verify`` also
    fetches keys for the schemes that fetch them; these do not)."""
    scheme = ready.provider.signature
    assert scheme is not None
    scheme.verify(request, ready.signature_keys, ready.context, now)
