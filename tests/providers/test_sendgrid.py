"""SendGrid's Event Webhook: batches of events, and the ECDSA signature, checked with
sendgrid-python's own test vector (its raw body ends with CRLF) and with keys made here."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from callbox.model.vocabulary import (
    BounceType,
    Channel,
    FailureReason,
    OptOutSource,
    ReportKind,
    Status,
)
from callbox.providers.base import (
    InboundRequest,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    SignatureRejected,
    SignedRequest,
    StatusReported,
)
from callbox.providers.sendgrid import (
    PROVIDER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    load_public_key,
    parse,
    verify,
)
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, ConfigError, Receiver
from tests.providers.contract import parse_sample

RECEIVER = ReceiverContext(name="sendgrid")

# sendgrid-python test/unit/test_eventwebhook.py (commit 76788e70a76b): the key, the headers
# and the raw body they sign, trailing CRLF included.
SDK_PUBLIC_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw"
    "+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
)
SDK_SIGNATURE = (
    "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtE"
    "ZtM="
)
SDK_TIMESTAMP = "1600112502"
SDK_BODY = (
    b'[{"email":"hello@world.com","event":"dropped","reason":"Bounced Address",'
    b'"sg_event_id":"ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",'
    b'"sg_message_id":"LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",'
    b'"smtp-id":"<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>",'
    b'"timestamp":1600112492}]\r\n'
)


def signed(
    body: bytes = SDK_BODY,
    signature: str | None = SDK_SIGNATURE,
    timestamp: str | None = SDK_TIMESTAMP,
) -> SignedRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER.lower()] = signature
    if timestamp is not None:
        headers[TIMESTAMP_HEADER.lower()] = timestamp
    return SignedRequest("POST", "", headers, "", body, "application/json")


def sdk_key() -> ec.EllipticCurvePublicKey:
    return load_public_key(SDK_PUBLIC_KEY)


def own_signature(key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """Signed as SendGrid signs: ECDSA P-256 / SHA-256 over timestamp + body, base64 DER."""
    return base64.b64encode(key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


NOW = datetime.now(UTC)

# --- The signature ---------------------------------------------------------------------------


def test_the_sdk_test_vector_verifies() -> None:
    verify(signed(), [sdk_key()], RECEIVER, NOW)


def test_the_sdk_body_matches_the_shared_raw_file_when_at_hand() -> None:
    from pathlib import Path

    raw = Path(
        "/work/shared/payloads/sendgrid/signed_raw_body_with_trailing_CRLF__sendgrid-python_test.raw"
    )
    if not raw.exists():
        pytest.skip("the shared payload folder is not available here")
    assert raw.read_bytes() == SDK_BODY


@pytest.mark.parametrize(
    "request_",
    [
        signed(body=SDK_BODY.rstrip(b"\r\n")),  # the trailing CRLF dropped
        signed(body=json.dumps(json.loads(SDK_BODY)).encode() + b"\r\n"),  # re-encoded
        signed(body=SDK_BODY.replace(b"Bounced Address", b"Bounced Addresz")),
        signed(timestamp="1600112503"),
        signed(signature=SDK_SIGNATURE.replace("MEUCIGHQ", "MEUCIGHR")),
    ],
    ids=["no-crlf", "re-encoded", "tampered-body", "other-timestamp", "tampered-signature"],
)
def test_anything_but_the_bytes_as_signed_is_refused(request_: SignedRequest) -> None:
    with pytest.raises(SignatureRejected, match="signature does not match"):
        verify(request_, [sdk_key()], RECEIVER, NOW)


def test_keys_rotate_and_a_wrong_key_is_refused() -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SignatureRejected, match="signature does not match"):
        verify(signed(), [other.public_key()], RECEIVER, NOW)
    verify(signed(), [other.public_key(), sdk_key()], RECEIVER, NOW)
    verify(signed(), [sdk_key(), other.public_key()], RECEIVER, NOW)


def test_a_signature_made_with_a_key_of_our_own_verifies() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    body = PROVIDER.samples[0].body
    timestamp = str(int(NOW.timestamp()))
    request = signed(body, own_signature(private, timestamp, body), timestamp)
    verify(request, [private.public_key()], RECEIVER, NOW)
    with pytest.raises(SignatureRejected):
        verify(request, [sdk_key()], RECEIVER, NOW)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (signed(signature=None), f"missing {SIGNATURE_HEADER} header"),
        (signed(timestamp=None), f"missing {TIMESTAMP_HEADER} header"),
        (signed(timestamp="soon"), f"{TIMESTAMP_HEADER} is not a unix timestamp"),
        (signed(signature="not base64!"), f"{SIGNATURE_HEADER} is not base64"),
    ],
)
def test_missing_or_malformed_headers_are_named(request_: SignedRequest, reason: str) -> None:
    with pytest.raises(SignatureRejected, match=reason):
        verify(request_, [sdk_key()], RECEIVER, NOW)


def test_the_key_is_read_as_sendgrid_shows_it_or_as_pem() -> None:
    pem = sdk_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert load_public_key(pem.decode()).public_numbers() == sdk_key().public_numbers()
    assert load_public_key(f"  {SDK_PUBLIC_KEY}\n").public_numbers() == sdk_key().public_numbers()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    for wrong in (p384, rsa_key):
        der = wrong.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(ValueError, match="expected an ECDSA P-256 public key"):
            load_public_key(base64.b64encode(der).decode())
    for junk in ("not a key", "bm90IGEga2V5", "-----BEGIN PUBLIC KEY-----\nxx\n-----END"):
        with pytest.raises(ValueError, match="expected the public key SendGrid shows"):
            load_public_key(junk)


def test_a_receiver_with_a_malformed_key_is_a_configuration_error() -> None:
    receiver = Receiver(name="sg", provider="sendgrid", auth=Auth(signature=["nope"]))
    with pytest.raises(ConfigError, match=r"signature\[0\]: not a SendGrid Event Webhook"):
        prepare_receiver(receiver, 0)
    good = Receiver(name="sg", provider="sendgrid", auth=Auth(signature=[SDK_PUBLIC_KEY]))
    (key,) = prepare_receiver(good, 0).signature_keys
    assert key.public_numbers() == sdk_key().public_numbers()


# --- The events ------------------------------------------------------------------------------


def post(batch: Any) -> list[Any]:
    body = batch if isinstance(batch, bytes) else json.dumps(batch).encode()
    return list(parse(InboundRequest("POST", body, "application/json"), RECEIVER))


def event(name: str, **fields: Any) -> dict[str, Any]:
    return {
        "email": "Recipient@Example.com",
        "timestamp": 1461095250,
        "event": name,
        "sg_event_id": f"id-{name}",
        "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
        "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
        **fields,
    }


def test_delivered_is_delivered_under_the_send_apis_message_id() -> None:
    (delivered,) = parse_sample(PROVIDER, PROVIDER.samples[0])
    assert delivered == StatusReported(
        dedupe_key="status:nOSv8m0eTQ-vxvwNwt3fZQ",
        provider_message_id="wrfRRvF7Q0GgwUo2CvDmEA",
        channel=Channel.EMAIL,
        status=Status.DELIVERED,
        provider_status="delivered",
        failure_reason=None,
        occurred_at=datetime(2016, 4, 19, 19, 47, 30, tzinfo=UTC),
        recipient="recipient@example.com",
        metadata={
            "sg_message_id": "wrfRRvF7Q0GgwUo2CvDmEA.filter0425p1mdw1.13037.57168B4A1D.0",
            "smtp-id": "<wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net>",
            "response": "250 2.0.0 OK 1461095248 m143si2210036ioe.159 - gsmtp",
            "anymail_id": "4ab185c2-0171-492f-9ce0-27de258efc99",
        },
        detail="250 2.0.0 OK 1461095248 m143si2210036ioe.159 - gsmtp",
    )


@pytest.mark.parametrize(
    ("fields", "word", "reason", "bounce_type"),
    [
        (
            event("bounce", type="bounce", status="5.1.1"),
            "bounce",
            FailureReason.PERMANENT,
            BounceType.HARD,
        ),
        (event("bounce"), "bounce", FailureReason.PERMANENT, BounceType.HARD),
        (
            event("bounce", type="blocked", status="4.0.0"),
            "blocked",
            FailureReason.BLOCKED,
            BounceType.BLOCKED,
        ),
        (
            event("dropped", reason="Bounced Address"),
            "dropped",
            FailureReason.BLOCKED,
            BounceType.SUPPRESSED,
        ),
        (
            event("dropped", reason="Unsubscribed Address"),
            "dropped",
            FailureReason.BLOCKED,
            BounceType.SUPPRESSED,
        ),
        (
            event("dropped", reason="Spam Content (if spam checker app enabled)"),
            "dropped",
            FailureReason.BLOCKED,
            BounceType.BLOCKED,
        ),
        (event("dropped", reason="Invalid"), "dropped", FailureReason.INVALID_RECIPIENT, None),
    ],
)
def test_failures(
    fields: dict[str, Any], word: str, reason: FailureReason, bounce_type: BounceType | None
) -> None:
    failed = post([fields])[0]
    assert isinstance(failed, StatusReported)
    assert (failed.status, failed.provider_status, failed.failure_reason) == (
        Status.FAILED,
        word,
        reason,
    )
    assert (failed.kind, failed.bounce_type) == (ReportKind.STATUS, bounce_type)
    assert failed.recipient == "recipient@example.com"
    assert failed.detail == fields.get("reason")


def test_a_hard_bounce_also_suppresses_the_address() -> None:
    bounced, suppressed = post([event("bounce", type="bounce", reason="550 no such user")])
    assert bounced.dedupe_key == "status:id-bounce"
    assert suppressed == OptOutReported(
        dedupe_key="optout:id-bounce",
        address="recipient@example.com",
        channel=Channel.EMAIL,
        occurred_at=datetime(2016, 4, 19, 19, 47, 30, tzinfo=UTC),
        source=OptOutSource.SUPPRESSION,
        provider_message_id="wrfRRvF7Q0GgwUo2CvDmEA",
        text="bounce: 550 no such user",
    )
    # Blocked and dropped messages leave the ledger alone.
    assert len(post([event("bounce", type="blocked"), event("dropped")])) == 2


def test_spam_reports_and_unsubscribes_are_reports_and_opt_outs() -> None:
    spam_report, spam, unsubscribe_report, unsubscribe = post(
        [event("spamreport"), event("unsubscribe")]
    )
    assert (spam_report.kind, spam_report.status, spam_report.dedupe_key) == (
        ReportKind.COMPLAINED,
        Status.DELIVERED,
        "status:id-spamreport",
    )
    assert spam == OptOutReported(
        dedupe_key="optout:id-spamreport",
        address="recipient@example.com",
        channel=Channel.EMAIL,
        occurred_at=datetime(2016, 4, 19, 19, 47, 30, tzinfo=UTC),
        source="complaint",
        provider_message_id="wrfRRvF7Q0GgwUo2CvDmEA",
        text="spamreport",
    )
    assert unsubscribe_report.kind is ReportKind.UNSUBSCRIBED
    assert (unsubscribe.source, unsubscribe.text) == ("unsubscribe", "unsubscribe")


@pytest.mark.parametrize(
    ("fields", "status", "kind", "bounce_type", "detail"),
    [
        (event("processed"), Status.SENT, ReportKind.STATUS, None, None),
        (
            event("deferred", response="450 try later", attempt="2"),
            Status.SENT,
            ReportKind.DEFERRED,
            BounceType.SOFT,
            "450 try later",
        ),
        (event("open", sg_machine_open=False), Status.DELIVERED, ReportKind.OPENED, None, None),
        (
            event("click", url="http://www.example.com"),
            Status.DELIVERED,
            ReportKind.CLICKED,
            None,
            "http://www.example.com",
        ),
        (
            event("group_unsubscribe", asm_group_id=42),
            Status.DELIVERED,
            ReportKind.UNSUBSCRIBED,
            None,
            "unsubscribe group 42",
        ),
    ],
)
def test_engagement_and_deferrals_are_reports_of_their_kind(
    fields: dict[str, Any],
    status: Status,
    kind: ReportKind,
    bounce_type: BounceType | None,
    detail: str | None,
) -> None:
    (report,) = post([fields])  # no opt-out: leaving one group is not leaving everything
    assert isinstance(report, StatusReported)
    assert (report.status, report.kind, report.bounce_type, report.detail) == (
        status,
        kind,
        bounce_type,
        detail,
    )
    assert (report.provider_status, report.dedupe_key) == (
        fields["event"],
        f"status:id-{fields['event']}",
    )


def test_events_the_model_does_not_record_give_no_event() -> None:
    assert post([event("group_resubscribe"), event("something_new")]) == []


def test_a_batch_gives_one_event_per_mapped_event_in_order() -> None:
    events = parse_sample(PROVIDER, PROVIDER.samples[4])
    assert [(type(e).__name__, e.dedupe_key) for e in events] == [
        ("StatusReported", "status:ZyjAM5rnQmuI1KFInHQ3Nw"),
        ("StatusReported", "status:ZGVsaXZlcmVkLTAtMTA5OTQ5MTktd3JmUlJ2Rjc"),
        ("StatusReported", "status:MjIwNDg5NTgtZGE3OC00NDI1LWFiMmMtMDUyZTU2ZmFkOTFm"),
        ("StatusReported", "status:OTdlOGUzYjctYjc5Zi00OWE4LWE4YWUtNjIxNjk2ZTJlNGVi"),
        ("StatusReported", "status:c3BhbXJlcG9ydC0xMDk5NDkxOS1MUnpYbF9OSFN0"),
        ("OptOutReported", "optout:c3BhbXJlcG9ydC0xMDk5NDkxOS1MUnpYbF9OSFN0"),
    ]
    assert [e.provider_status for e in events if isinstance(e, StatusReported)] == [
        "processed",
        "delivered",
        "open",
        "click",
        "spamreport",
    ]
    assert events[0].metadata["custom1"] == "value1"  # a custom argument


def test_message_ids_come_from_sg_message_id_or_smtp_id() -> None:
    without_prefix = event("dropped", sg_message_id="filter0093p1las1.9128.5717FB8127.0")
    no_sg_id = {k: v for k, v in event("delivered").items() if k != "sg_message_id"}
    neither = {k: v for k, v in no_sg_id.items() if k != "smtp-id"}
    ids = [post([fields])[0].provider_message_id for fields in (without_prefix, no_sg_id)]
    assert ids == [
        "filter0093p1las1.9128.5717FB8127.0",
        "wrfRRvF7Q0GgwUo2CvDmEA@ismtpd0006p1sjc2.sendgrid.net",
    ]
    with pytest.raises(PayloadRejected, match=r"event \[0\] needs sg_message_id"):
        post([neither])
    # An opt-out needs no message.
    (opt_out,) = post([{k: v for k, v in event("unsubscribe").items() if "id" not in k}])
    assert opt_out.provider_message_id is None
    assert opt_out.dedupe_key == "optout:unsubscribe::recipient@example.com:1461095250"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"event": "delivered"}', "expected a JSON array of SendGrid events, got a JSON object"),
        (b"[]", "an empty JSON array"),
        (b"[1]", r"event \[0\]: expected a JSON object, got a JSON number"),
        (json.dumps([{"email": "a@example.com"}]).encode(), r"event \[0\] needs event"),
        (json.dumps([event("delivered", email=None)]).encode(), r"event \[0\] needs email"),
        (
            json.dumps([event("delivered"), event("bounce", timestamp="soon")]).encode(),
            r"event \[1\] timestamp: not a Unix timestamp",
        ),
        (
            json.dumps([event("delivered", timestamp=[1])]).encode(),
            r"event \[0\] timestamp: expected unix seconds, got a JSON array",
        ),
        (
            json.dumps([event("delivered", sg_event_id={"a": 1})]).encode(),
            r"event \[0\] sg_event_id: expected text, got a JSON object",
        ),
        (b"not json", "invalid JSON"),
    ],
)
def test_unreadable_batches_are_rejected_naming_the_event(body: bytes, reason: str) -> None:
    with pytest.raises(PayloadRejected, match=reason):
        post(body)
