"""Sinch SMS (XMS): HMAC signatures against the SDKs' own vectors, and every callback type.

Signature vectors, verbatim:

- sinch-sdk-python's ``validate_sinch_event_signature_with_nonce`` (the algorithm
  ``base64(HMAC-SHA256(secret, body + "." + nonce + "." + timestamp))``), with the
  secret, nonce, timestamp, body and signature of sinch-sdk-dotnet's
  ``Conversation.WebhooksTests.ValidateRequest``;
- sinch-sdk-dotnet's ``SinchEventsTests.ValidateAuthenticationHeader_*``: the same secret,
  nonce and timestamp over ``Resources/Conversation/Hooks/WebhooksAuthValidation.json`` (its
  bytes as checked in: four-space indentation, LF line ends, a final newline).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    NotApplied,
    PayloadRejected,
    ReceiverContext,
    SignatureRejected,
    SignedRequest,
    StatusReported,
)
from callbox.providers.sinch import PROVIDER, SAMPLES, load_secret, parse
from callbox.receivers import ReadyReceiver, prepare_receiver
from callbox.settings import Auth, ConfigError, Receiver, settings_from_mapping
from tests.providers.contract import parse_sample

RECEIVER = ReceiverContext(name="sinch")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "sinch.md"

SDK_SECRET = "foo_secret1234"
SDK_NONCE = "01FJA8B4A7BM43YGWSG9GBV067"
SDK_TIMESTAMP = "1634579353"
SDK_NOW = datetime.fromtimestamp(1634579353, UTC)

# sinch-sdk-dotnet Conversation WebhooksTests.ValidateRequest (also sinch-sdk-python's
# algorithm): one line of JSON.
SDK_BODY = (
    b'{"app_id":"","accepted_time":"2021-10-18T17:49:13.813615Z",'
    b'"project_id":"e2df3a34-a71b-4448-9db5-a8d2baad28e4","contact_create_notification":'
    b'{"contact":{"id":"01FJA8B466Y0R2GNXD78MD9SM1","channel_identities":[{"channel":"SMS",'
    b'"identity":"48123456789","app_id":""}],"display_name":"New Test Contact",'
    b'"email":"new.contact@email.com","external_id":"","metadata":"","language":"EN_US"}},'
    b'"message_metadata":""}'
)
SDK_SIGNATURE = "6bpJoRmFoXVjfJIVglMoJzYXxnoxRujzR4k2GOXewOE="

# sinch-sdk-dotnet tests/Sinch.Tests/Resources/Conversation/Hooks/WebhooksAuthValidation.json.
DOTNET_BODY = b"""{
    "app_id": "01W4FFL35P4NC4K35CONVAPP01",
    "event_time": "2024-06-06T14:42:42.379863404Z",
    "project_id": "tinyfrog-jump-high-over-lilypadbasin",
    "event": {
        "direction": "TO_APP",
        "contact_event": {
            "composing_event": {}
        },
        "id": "01W4FFL35P4NC4K35EVENT0001",
        "conversation_id": "01W4FFL35P4NC4K35CONVERS01",
        "contact_id": "01W4FFL35P4NC4K35CONTACT01",
        "channel_identity": {
            "channel": "RCS",
            "identity": "12015555555",
            "app_id": ""
        },
        "accept_time": "2024-06-06T14:42:42.429455346Z",
        "processing_mode": "CONVERSATION"
    },
    "message_metadata": "",
    "correlation_id": ""
}
"""
DOTNET_SIGNATURE = "wKmZBGo4Cf+y9cZoPHhiVw6ziKeubLGqN4OdG8jlaPo="

SECRET = "callback-secret-0123456789"
NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


def request(body: bytes, headers: dict[str, str]) -> SignedRequest:
    return SignedRequest(
        method="POST",
        url="",
        headers={"content-type": "application/json", **headers},
        query_string="",
        body=body,
        content_type="application/json",
    )


def sdk_headers(signature: str, algorithm: str | None = "HmacSHA256") -> dict[str, str]:
    headers = {
        "x-sinch-webhook-signature": signature,
        "x-sinch-webhook-signature-nonce": SDK_NONCE,
        "x-sinch-webhook-signature-timestamp": SDK_TIMESTAMP,
    }
    if algorithm is not None:
        headers["x-sinch-webhook-signature-algorithm"] = algorithm
    return headers


def sinch_signature(
    secret: str, body: bytes, nonce: str, timestamp: str, digest: Any = hashlib.sha256
) -> str:
    """Sinch's documented algorithm, written out here independently of the module."""
    signed = body + b"." + nonce.encode() + b"." + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, digest).digest()).decode()


def signed(
    body: bytes,
    secret: str = SECRET,
    at: datetime = NOW,
    algorithm: str = "HmacSHA256",
    digest: Any = hashlib.sha256,
) -> SignedRequest:
    timestamp = str(int(at.timestamp()))
    nonce = "01HZX3S4GQ7Y2N6V8B0C1D2E3F"
    return request(
        body,
        {
            "x-sinch-webhook-signature": sinch_signature(secret, body, nonce, timestamp, digest),
            "x-sinch-webhook-signature-nonce": nonce,
            "x-sinch-webhook-signature-timestamp": timestamp,
            "x-sinch-webhook-signature-algorithm": algorithm,
        },
    )


def verify(signed_request: SignedRequest, *secrets: str, now: datetime = NOW) -> None:
    assert PROVIDER.signature is not None
    keys = [PROVIDER.signature.load_key(secret) for secret in secrets]
    PROVIDER.signature.verify(signed_request, keys, RECEIVER, now)


def refusal(signed_request: SignedRequest, *secrets: str, now: datetime = NOW) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(signed_request, *secrets, now=now)
    return caught.value.reason


# --- The SDKs' vectors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        pytest.param(SDK_BODY, SDK_SIGNATURE, id="python-and-dotnet-validate-request"),
        pytest.param(DOTNET_BODY, DOTNET_SIGNATURE, id="dotnet-webhooks-auth-validation"),
    ],
)
def test_sdk_vectors_are_accepted(body: bytes, signature: str) -> None:
    verify(request(body, sdk_headers(signature)), SDK_SECRET, now=SDK_NOW)


def test_sdk_vector_without_the_algorithm_header_is_sha256() -> None:
    """sinch-sdk-python never reads the algorithm header: HmacSHA256 is implied."""
    verify(request(SDK_BODY, sdk_headers(SDK_SIGNATURE, algorithm=None)), SDK_SECRET, now=SDK_NOW)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(SDK_BODY.replace(b"New Test", b"Old Test"), {}, id="body"),
        pytest.param(DOTNET_BODY.rstrip(b"\n"), {}, id="final-newline-dropped"),
        pytest.param(DOTNET_BODY.replace(b"\n", b"\r\n"), {}, id="crlf"),
        pytest.param(SDK_BODY, {"x-sinch-webhook-signature-nonce": SDK_NONCE[:-1]}, id="nonce"),
        pytest.param(
            SDK_BODY, {"x-sinch-webhook-signature-timestamp": "1634579354"}, id="timestamp"
        ),
        pytest.param(
            SDK_BODY,
            {"x-sinch-webhook-signature": SDK_SIGNATURE.rstrip("=")},
            id="signature-without-padding",
        ),
        pytest.param(
            SDK_BODY,
            {"x-sinch-webhook-signature": SDK_SIGNATURE.lower()},
            id="signature-case",
        ),
        pytest.param(
            SDK_BODY, {"x-sinch-webhook-signature-algorithm": "HmacSHA512"}, id="algorithm"
        ),
    ],
)
def test_sdk_vectors_tampered_are_refused(body: bytes, headers: dict[str, str]) -> None:
    original = DOTNET_SIGNATURE if body.startswith(DOTNET_BODY[:20]) else SDK_SIGNATURE
    tampered = request(body, {**sdk_headers(original), **headers})
    assert refusal(tampered, SDK_SECRET, now=SDK_NOW) == "signature does not match"


def test_sdk_vector_is_too_old_now() -> None:
    reason = refusal(request(SDK_BODY, sdk_headers(SDK_SIGNATURE)), SDK_SECRET)
    assert reason == "timestamp outside the 300 s window"


# --- Algorithms, keys, windows, headers ------------------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [
        ("HmacSHA256", hashlib.sha256),
        ("HmacSHA384", hashlib.sha384),
        ("HmacSHA512", hashlib.sha512),
        ("hmacsha512", hashlib.sha512),
    ],
)
def test_the_algorithm_header_names_the_hash(algorithm: str, digest: Any) -> None:
    verify(signed(SAMPLES[0].body, algorithm=algorithm, digest=digest), SECRET)


def test_a_sha512_signature_announced_as_sha256_is_refused() -> None:
    mislabelled = signed(SAMPLES[0].body, algorithm="HmacSHA256", digest=hashlib.sha512)
    assert refusal(mislabelled, SECRET) == "signature does not match"


def test_an_unknown_algorithm_is_refused_with_a_reason() -> None:
    weak = signed(SAMPLES[0].body, algorithm="HmacMD5", digest=hashlib.md5)
    assert refusal(weak, SECRET) == (
        "unsupported x-sinch-webhook-signature-algorithm 'HmacMD5': expected HmacSHA256,"
        " HmacSHA384 or HmacSHA512"
    )


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda sample: sample.description)
def test_every_sample_signed_is_accepted(sample: Any) -> None:
    verify(signed(sample.body), SECRET)


def test_another_secret_is_refused() -> None:
    wrong = signed(SAMPLES[0].body, secret="another-secret-9876543210")
    assert refusal(wrong, SECRET) == "signature does not match"


def test_a_rotated_secret_second_in_the_list_verifies() -> None:
    verify(signed(SAMPLES[0].body, secret="new-secret-0123456789"), SECRET, "new-secret-0123456789")


@pytest.mark.parametrize(
    ("seconds", "accepted"),
    [(-301, False), (-300, True), (0, True), (300, True), (301, False)],
)
def test_the_timestamp_must_be_within_300_seconds(seconds: int, accepted: bool) -> None:
    signed_request = signed(SAMPLES[0].body, at=NOW + timedelta(seconds=seconds))
    if accepted:
        verify(signed_request, SECRET)
    else:
        assert refusal(signed_request, SECRET) == "timestamp outside the 300 s window"


@pytest.mark.parametrize(
    "header",
    [
        "x-sinch-webhook-signature",
        "x-sinch-webhook-signature-nonce",
        "x-sinch-webhook-signature-timestamp",
    ],
)
def test_a_missing_header_is_named(header: str) -> None:
    complete = signed(SAMPLES[0].body)
    headers = {name: value for name, value in complete.headers.items() if name != header}
    assert refusal(request(complete.body, headers), SECRET) == f"missing {header} header"


def test_a_timestamp_that_is_not_a_number_is_refused() -> None:
    complete = signed(SAMPLES[0].body)
    broken = request(
        complete.body, {**complete.headers, "x-sinch-webhook-signature-timestamp": "now"}
    )
    reason = refusal(broken, SECRET)
    assert reason == "x-sinch-webhook-signature-timestamp is not a unix timestamp"


def test_a_field_added_in_transit_is_refused() -> None:
    complete = signed(SAMPLES[1].body)
    document = json.loads(complete.body)
    document["statuses"][0]["recipients"].append("447700900999")
    changed = request(json.dumps(document).encode(), dict(complete.headers))
    assert refusal(changed, SECRET) == "signature does not match"


@pytest.mark.parametrize(
    "reencode",
    [
        pytest.param(lambda document: json.dumps(document).encode(), id="compact-json"),
        pytest.param(
            lambda document: json.dumps(document, ensure_ascii=False).encode(), id="unescaped"
        ),
        pytest.param(
            lambda document: json.dumps(document, separators=(",", ":")).encode(), id="minified"
        ),
    ],
)
def test_a_body_re_encoded_by_a_proxy_is_refused(reencode: Any) -> None:
    complete = signed(SAMPLES[0].body)
    reencoded = reencode(json.loads(complete.body))
    assert reencoded != complete.body and json.loads(reencoded) == json.loads(complete.body)
    assert refusal(request(reencoded, dict(complete.headers)), SECRET) == (
        "signature does not match"
    )


def test_sign_makes_what_sinch_sends() -> None:
    """``sign`` (used by the contract test and samples) agrees with the independent signer."""
    scheme = PROVIDER.signature
    assert scheme is not None and scheme.sign is not None
    unsigned = request(SAMPLES[0].body, {})
    made = scheme.sign(unsigned, SECRET, RECEIVER, NOW)
    headers = made.headers
    assert headers["x-sinch-webhook-signature-timestamp"] == str(int(NOW.timestamp()))
    assert headers["x-sinch-webhook-signature-algorithm"] == "HmacSHA256"
    assert headers["x-sinch-webhook-signature"] == sinch_signature(
        SECRET,
        SAMPLES[0].body,
        headers["x-sinch-webhook-signature-nonce"],
        headers["x-sinch-webhook-signature-timestamp"],
    )
    verify(made, SECRET)
    assert scheme.needs_public_url is False


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (" ", "empty"),
        ("secret-with-a-newline\n", "it starts or ends with whitespace (a copy-paste slip?)"),
    ],
)
def test_a_blank_or_padded_secret_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, text: str, problem: str
) -> None:
    monkeypatch.setenv("SINCH_SECRET", text)
    receiver = Receiver(name="sinch", provider="sinch", auth=Auth(signature=["env:SINCH_SECRET"]))
    with pytest.raises(ConfigError) as caught:
        prepare_receiver(receiver, 0)
    assert str(caught.value) == (
        f"receivers[0].auth.signature[0]: not a Sinch callback secret: {problem}"
    )
    assert "secret-with-a-newline" not in str(caught.value)  # a secret is never echoed


def test_load_secret_keeps_the_secret_as_given() -> None:
    assert load_secret("Kayaking The Swell") == b"Kayaking The Swell"


# --- Parsing ---------------------------------------------------------------------------------


def post(document: Any) -> InboundRequest:
    return InboundRequest(
        method="POST", body=json.dumps(document).encode(), content_type="application/json"
    )


def reject_reason(document: Any) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(post(document), RECEIVER)
    return caught.value.reason


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_mo_text_sample() -> None:
    assert parse_sample(PROVIDER, SAMPLES[0]) == [
        MessageReceived(
            dedupe_key="inbound:01W4FFL35P4NC4K35SMSBATCH8",
            provider_message_id="01W4FFL35P4NC4K35SMSBATCH8",
            channel=Channel.SMS,
            sender="+12015555555",
            recipient="+12017777777",
            body="Hello John! \U0001f44b",
            occurred_at=utc("2024-06-06T07:52:37.386"),
            metadata={"type": "mo_text", "operator_id": "311071"},
        )
    ]


def test_mo_text_from_courier_test() -> None:
    """nyaruka/courier's mblox handler test: the same format from the CLX days."""
    document = {
        "id": "OzQ5UqIOdoY8",
        "from": "12067799294",
        "to": "18444651185",
        "body": "Hello World",
        "type": "mo_text",
        "received_at": "2016-03-30T19:33:06.643Z",
    }
    (message,) = parse(post(document), RECEIVER)
    assert isinstance(message, MessageReceived)
    assert (message.sender, message.recipient, message.body) == (
        "+12067799294",
        "+18444651185",
        "Hello World",
    )
    assert message.occurred_at == utc("2016-03-30T19:33:06.643")


def test_full_batch_report_is_one_status_per_recipient() -> None:
    events = parse_sample(PROVIDER, SAMPLES[1])
    assert events == [
        StatusReported(
            dedupe_key=f"status:01W4FFL35P4NC4K35SMSBATCH8:{number}:DELIVERED",
            provider_message_id=f"01W4FFL35P4NC4K35SMSBATCH8:{number}",
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="Delivered",
            failure_reason=None,
            occurred_at=None,
            recipient=number,
            reference="client-ref",
            metadata={"type": "delivery_report_sms", "client_reference": "client-ref", "code": 0},
        )
        for number in ("+12017777777", "+33612345678")
    ]


def test_full_report_of_the_xms_docs_with_two_statuses() -> None:
    document = {
        "type": "delivery_report_sms",
        "batch_id": "{batch_id}",
        "total_message_count": 3,
        "statuses": [
            {"code": 400, "status": "Queued", "count": 1, "recipients": ["123456789"]},
            {"code": 0, "status": "Delivered", "count": 2, "recipients": ["987654321", "4477009"]},
        ],
    }
    events = parse(post(document), RECEIVER)
    assert [
        (e.provider_message_id, e.status, e.provider_status, e.metadata["code"])
        for e in events
        if isinstance(e, StatusReported)
    ] == [
        ("{batch_id}:+123456789", Status.PENDING, "Queued", 400),
        ("{batch_id}:+987654321", Status.DELIVERED, "Delivered", 0),
        ("{batch_id}:4477009", Status.DELIVERED, "Delivered", 0),  # 7 digits: kept as given
    ]
    assert events[0].metadata["total_message_count"] == 3  # type: ignore[union-attr]


def test_summary_batch_report_names_no_recipient_so_gives_a_note_and_no_event() -> None:
    # Sinch XMS docs, "Delivery report" summary example.
    document = {
        "type": "delivery_report_sms",
        "batch_id": "3SD49KIOW8lL1Z5E",
        "statuses": [
            {"code": 0, "count": 2, "status": "Delivered"},
            {"code": 11, "count": 1, "status": "Failed"},
        ],
        "total_message_count": 2,
    }
    assert parse(post(document), RECEIVER) == [
        NotApplied(
            "summary delivery report (Delivered: 2, Failed: 1): counts only, no recipient"
            ' named, so nothing applied; ask for "full", "per_recipient" or'
            ' "per_recipient_final" reports to follow each message'
        )
    ]


def test_recipient_report_failed_sample() -> None:
    assert parse_sample(PROVIDER, SAMPLES[2]) == [
        StatusReported(
            dedupe_key="status:3-mbA7z9wDKY76ag:+123456789:FAILED",
            provider_message_id="3-mbA7z9wDKY76ag:+123456789",
            channel=Channel.SMS,
            status=Status.FAILED,
            provider_status="Failed",
            failure_reason=FailureReason.UNKNOWN,
            # operator_status_at, the operator's time, rather than `at`, Sinch's report time.
            occurred_at=utc("2016-12-05T16:24:00"),
            recipient="+123456789",
            metadata={"type": "recipient_delivery_report_sms", "code": 11},
        )
    ]


def test_recipient_report_with_a_string_code_sample() -> None:
    (report,) = parse_sample(PROVIDER, SAMPLES[3])
    assert isinstance(report, StatusReported)
    assert (report.status, report.provider_status, report.metadata["code"]) == (
        Status.DELIVERED,
        "Delivered",
        0,
    )


def test_recipient_report_aborted_for_an_unprovisioned_region_sample() -> None:
    (report,) = parse_sample(PROVIDER, SAMPLES[4])
    assert isinstance(report, StatusReported)
    assert (report.status, report.failure_reason, report.reference) == (
        Status.FAILED,
        FailureReason.BLOCKED,
        "client-ref",
    )
    assert report.occurred_at == utc("2024-06-06T08:17:15.603")  # `at`: no operator time


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("QUEUED", 400, (Status.PENDING, None)),
        ("Dispatched", 401, (Status.SENT, None)),
        ("DELIVERED", 0, (Status.DELIVERED, None)),
        ("Failed", 11, (Status.FAILED, FailureReason.UNKNOWN)),
        ("Aborted", 402, (Status.FAILED, FailureReason.PERMANENT)),
        ("Aborted", "403", (Status.FAILED, FailureReason.TECHNICAL)),
        ("Aborted", 404, (Status.FAILED, FailureReason.TEMPORARY)),
        ("Aborted", 405, (Status.FAILED, FailureReason.UNKNOWN)),
        ("Aborted", 406, (Status.FAILED, FailureReason.EXPIRED)),
        ("Aborted", 408, (Status.FAILED, FailureReason.PERMANENT)),
        ("Rejected", None, (Status.FAILED, FailureReason.UNKNOWN)),
        ("Expired", None, (Status.FAILED, FailureReason.EXPIRED)),
        ("Deleted", None, (Status.FAILED, FailureReason.PERMANENT)),
        ("Cancelled", 407, (Status.FAILED, FailureReason.UNKNOWN)),
        ("Unknown", None, (Status.UNKNOWN, None)),
        ("Delivered", 404, (Status.DELIVERED, None)),  # a code never makes a failure
        ("Teleported", None, (Status.UNKNOWN, None)),
    ],
)
def test_status_words_and_codes(
    status: str, code: int | str | None, expected: tuple[Status, FailureReason | None]
) -> None:
    document: dict[str, Any] = {
        "type": "recipient_delivery_report_sms",
        "batch_id": "01W4FFL35P4NC4K35SMSBATCH9",
        "recipient": "447700900123",
        "status": status,
        "at": "2024-06-06T08:17:15.603Z",
    }
    if code is not None:
        document["code"] = code
    (report,) = parse(post(document), RECEIVER)
    assert isinstance(report, StatusReported)
    assert (report.status, report.failure_reason, report.provider_status) == (*expected, status)
    assert report.dedupe_key == f"status:01W4FFL35P4NC4K35SMSBATCH9:+447700900123:{status.upper()}"


def test_the_applied_originator_is_the_sender() -> None:
    document = {
        "type": "recipient_delivery_report_mms",
        "batch_id": "B1",
        "recipient": "447700900123",
        "status": "Delivered",
        "code": 0,
        "at": "2024-06-06T08:17:15.603Z",
        "applied_originator": "447700900999",
        "operator": "23410",
    }
    (report,) = parse(post(document), RECEIVER)
    assert isinstance(report, StatusReported)
    assert (report.sender, report.recipient) == ("+447700900999", "+447700900123")
    assert report.metadata == {
        "type": "recipient_delivery_report_mms",
        "operator": "23410",
        "code": 0,
    }


def test_mo_binary_keeps_the_payload_in_metadata() -> None:
    document = {
        "type": "mo_binary",
        "id": "01FC66621VHDBN119Z8PMV1BIN",
        "from": "447700900123",
        "to": "54321",
        "body": "AAECAw==",
        "udh": "050003CC0201",
        "received_at": "2024-06-06T07:52:37.386Z",
    }
    (message,) = parse(post(document), RECEIVER)
    assert isinstance(message, MessageReceived)
    assert (message.sender, message.recipient, message.body) == ("+447700900123", "54321", None)
    assert message.metadata == {
        "type": "mo_binary",
        "udh": "050003CC0201",
        "binary_body": "AAECAw==",
    }


def test_mo_media_reads_the_message_and_keeps_the_media() -> None:
    media = [{"url": "https://example.com/cat.jpg", "content_type": "image/jpeg", "code": 0}]
    document = {
        "type": "mo_media",
        "id": "01FC66621VHDBN119Z8PMV1MMS",
        "from": "12015555555",
        "to": "12017777777",
        "body": {"subject": "Look", "message": "A cat", "media": media},
        "received_at": "2024-06-06T07:52:37.386Z",
    }
    (message,) = parse(post(document), RECEIVER)
    assert isinstance(message, MessageReceived)
    assert message.body == "A cat"
    assert message.metadata == {"type": "mo_media", "subject": "Look", "media": media}


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"batch_id": "B1"}, "missing required field 'type'"),
        (
            {"type": "mt_text"},
            "unsupported Sinch callback type 'mt_text': expected delivery_report_mms,"
            " delivery_report_sms, mo_binary, mo_media, mo_text, recipient_delivery_report_mms,"
            " recipient_delivery_report_sms",
        ),
        ({"type": "mo_text", "from": "1", "to": "2"}, "missing required field 'id'"),
        (
            {"type": "mo_media", "id": "m", "from": "1", "to": "2", "body": "text"},
            "mo_media: 'body' must be an object, got a JSON string",
        ),
        (
            {"type": "delivery_report_sms", "batch_id": "B1", "statuses": {}},
            "'statuses' must be a list of objects, got a JSON object",
        ),
        (
            {"type": "delivery_report_sms", "batch_id": "B1", "statuses": [{"code": 0}]},
            "missing required field of statuses[0] 'status'",
        ),
        (
            {
                "type": "delivery_report_sms",
                "batch_id": "B1",
                "statuses": [{"status": "Delivered", "recipients": "12017777777"}],
            },
            "statuses[0].recipients must be a list, got a JSON string",
        ),
        (
            {
                "type": "delivery_report_sms",
                "batch_id": "B1",
                "statuses": [{"status": "Delivered", "recipients": [True]}],
            },
            "statuses[0].recipients[0]: expected a phone number",
        ),
        (
            {"type": "recipient_delivery_report_sms", "batch_id": "B1", "status": "Delivered"},
            "missing required field 'recipient'",
        ),
        (
            {
                "type": "recipient_delivery_report_sms",
                "batch_id": "B1",
                "recipient": "1",
                "status": "Failed",
                "code": 1.5,
            },
            "field 'code': expected text or an integer, got a JSON number (1.5)",
        ),
        (
            {
                "type": "recipient_delivery_report_sms",
                "batch_id": "B1",
                "recipient": "1",
                "status": "Failed",
                "at": "yesterday",
            },
            "at: not a timestamp: 'yesterday'",
        ),
    ],
)
def test_malformed_callbacks_are_rejected_with_a_reason(document: Any, reason: str) -> None:
    assert reject_reason(document) == reason


# --- docs/sinch.md -----------------------------------------------------------------------------


def test_the_documented_receiver_verifies_sinch_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    monkeypatch.setenv("SINCH_CALLBACK_SECRET", SECRET)
    (receiver,) = settings_from_mapping(tomllib.loads(block)).receivers
    ready = prepare_receiver(receiver, 0)
    verify_ready(ready, signed(SAMPLES[2].body), NOW)
    with pytest.raises(SignatureRejected):
        verify_ready(ready, signed(SAMPLES[2].body, secret="another-secret-0123456789"), NOW)
    assert ready.context.our_address == "+12025550134"  # batch reports name no sender


def verify_ready(ready: ReadyReceiver, request: SignedRequest, now: datetime) -> None:
    """The receiver's keys through its provider's pure check (``ReadyReceiver.verify`` also
    fetches keys for the schemes that fetch them; these do not)."""
    scheme = ready.provider.signature
    assert scheme is not None
    scheme.verify(request, ready.signature_keys, ready.context, now)
