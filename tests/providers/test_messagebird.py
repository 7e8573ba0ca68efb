"""MessageBird: the JWT signature (MessageBird's own SDK test vectors first), status reports,
STOP reports, inbound SMS and MMS."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import warnings
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import jwt
import pytest

from callbox.cli import main
from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    SignatureRejected,
    SignedRequest,
    StatusReported,
)
from callbox.providers.messagebird import (
    MESSAGEBIRD_STATUSES,
    PROVIDER,
    SIGNATURE,
    load_signing_key,
    parse,
    sign_request,
    verify_signature,
)
from tests.providers.contract import parse_sample

VECTORS_FILE = Path(__file__).parent / "vectors" / "messagebird_webhook_signature_test_data.json"
VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())
SDK_SECRET = "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb"
OTHER_KEY = "PlLrKaqvZNRR5zAjm42ZT6q1SQxgbbGd"  # the key in MessageBird's Ruby SDK example
RECEIVER = ReceiverContext(name="messagebird")

# MessageBird's reason for each refused vector, and ours.
REASONS = {
    "invalid jwt: claim nbf is in the future": "token not valid yet (nbf is in the future)",
    "invalid jwt: claim exp is in the past": "token expired (exp is in the past)",
    "invalid jwt: claim url_hash is invalid": (
        "url_hash does not match the URL (check the receiver's public_url)"
    ),
    "invalid jwt: claim payload_hash is invalid": "payload_hash does not match the body",
    "invalid jwt: signature is invalid": "signature does not match",
    "invalid jwt: claim payload_hash is set but actual payload is missing": (
        "token has a payload_hash but the body is empty"
    ),
    "invalid jwt: claim payload_hash is not set but payload is present": (
        "body present but the token has no payload_hash"
    ),
    "invalid jwt: signing method none is invalid": (
        "signing method 'none' is not allowed (HS256, HS384 or HS512)"
    ),
}


def vector_request(vector: dict[str, Any], **changes: Any) -> SignedRequest:
    request = SignedRequest(
        method=vector["method"],
        url=vector["url"],
        headers={"messagebird-signature-jwt": vector["token"]},
        query_string=urlsplit(vector["url"]).query,
        body=vector.get("payload", "").encode("latin-1"),
        content_type="",
    )
    return replace(request, **changes)


def vector_time(vector: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(vector["timestamp"])


def verify(request: SignedRequest, *keys: str, now: datetime) -> None:
    SIGNATURE.verify(request, [SIGNATURE.load_key(key) for key in keys], RECEIVER, now)


def refusal(request: SignedRequest, *keys: str, now: datetime) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(request, *keys, now=now)
    return caught.value.reason


def valid(name: str) -> dict[str, Any]:
    [vector] = [vector for vector in VECTORS if vector["name"] == name]
    assert vector["valid"]
    return vector


# The SDK's vectors --------------------------------------------------------------------------


def test_all_44_vectors_are_read() -> None:
    assert len(VECTORS) == 44
    assert sum(vector["valid"] for vector in VECTORS) == 24


@pytest.mark.parametrize("vector", VECTORS, ids=[vector["name"] for vector in VECTORS])
def test_messagebird_sdk_vector(vector: dict[str, Any]) -> None:
    request = vector_request(vector)
    secret = vector.get("secret", SDK_SECRET)
    if vector["valid"]:
        verify(request, secret, now=vector_time(vector))
    else:
        assert refusal(request, secret, now=vector_time(vector)) == REASONS[vector["reason"]]


VALID = [vector for vector in VECTORS if vector["valid"]]


@pytest.mark.parametrize("vector", VALID, ids=[vector["name"] for vector in VALID])
def test_every_valid_vector_is_refused_once_tampered(vector: dict[str, Any]) -> None:
    now = vector_time(vector)
    token = vector["token"]
    header, claims, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert refusal(
        vector_request(
            vector, headers={"messagebird-signature-jwt": f"{header}.{claims}.{flipped}"}
        ),
        SDK_SECRET,
        now=now,
    ) == ("signature does not match")
    assert refusal(vector_request(vector), OTHER_KEY, now=now) == "signature does not match"
    moved = vector_request(vector, url=vector["url"].replace("example.com", "example.org"))
    assert refusal(moved, SDK_SECRET, now=now).startswith("url_hash does not match")
    body = vector_request(vector).body
    changed = vector_request(vector, body=body + b"!")
    assert refusal(changed, SDK_SECRET, now=now) == (
        "payload_hash does not match the body"
        if body
        else "body present but the token has no payload_hash"
    )


def test_a_claim_changed_without_resigning_is_refused() -> None:
    vector = valid("Valid JWT with no URL parameters or payload - GET")
    header, claims, signature = vector["token"].split(".")
    decoded = json.loads(base64.urlsafe_b64decode(claims + "=="))
    decoded["exp"] += 3600
    forged = base64.urlsafe_b64encode(json.dumps(decoded).encode()).rstrip(b"=").decode()
    request = vector_request(
        vector, headers={"messagebird-signature-jwt": f"{header}.{forged}.{signature}"}
    )
    assert refusal(request, SDK_SECRET, now=vector_time(vector)) == "signature does not match"


# Keys, headers, time ---------------------------------------------------------------------------


def test_a_rotated_key_verifies_in_either_place() -> None:
    vector = valid("Valid JWT with URL parameters and payload - POST")
    now = vector_time(vector)
    verify(vector_request(vector), OTHER_KEY, SDK_SECRET, now=now)
    verify(vector_request(vector), SDK_SECRET, OTHER_KEY, now=now)
    assert refusal(vector_request(vector), OTHER_KEY, "yet-another-key", now=now) == (
        "signature does not match"
    )


def test_missing_header_is_refused() -> None:
    vector = valid("Valid JWT with no URL parameters or payload - GET")
    assert refusal(vector_request(vector, headers={}), SDK_SECRET, now=vector_time(vector)) == (
        "missing MessageBird-Signature-JWT header"
    )


@pytest.mark.parametrize("value", ["", "   ", "not-a-jwt", "a.b", "a.b.c.d", "e30.e30.%%%"])
def test_a_header_that_is_no_jwt_is_refused(value: str) -> None:
    vector = valid("Valid JWT with no URL parameters or payload - GET")
    request = vector_request(vector, headers={"messagebird-signature-jwt": value})
    reason = refusal(request, SDK_SECRET, now=vector_time(vector))
    assert reason in (
        "missing MessageBird-Signature-JWT header",
        "MessageBird-Signature-JWT is not a JWT",
    )


@pytest.mark.parametrize(
    ("seconds", "verifies"),
    [(-2, False), (-1, True), (0, True), (58, True), (60, True), (61, False), (3600, False)],
)
def test_the_token_lives_from_nbf_to_exp_with_one_second_of_leeway(
    seconds: int, verifies: bool
) -> None:
    vector = valid("Valid JWT with no URL parameters or payload - GET")  # nbf 12:00:00, exp +60 s
    now = vector_time(vector) + timedelta(seconds=seconds)
    if verifies:
        verify(vector_request(vector), SDK_SECRET, now=now)
    else:
        reason = refusal(vector_request(vector), SDK_SECRET, now=now)
        assert reason.startswith("token expired" if seconds > 0 else "token not valid yet")


def test_a_param_added_in_transit_is_refused() -> None:
    vector = valid("Valid JWT with URL parameters and no payload - GET")
    added = vector_request(vector, url=vector["url"] + "&status=delivered")
    assert refusal(added, SDK_SECRET, now=vector_time(vector)).startswith(
        "url_hash does not match the URL"
    )


def test_a_body_re_encoded_by_a_proxy_is_refused() -> None:
    vector = valid("Special characters in the payload - POST")
    # Same text, percent-encoded by a proxy that "normalised" the form.
    re_encoded = urlencode({"text": vector["payload"]}).encode()[len("text=") :]
    assert re_encoded != vector["payload"].encode()
    request = vector_request(vector, body=re_encoded)
    assert refusal(request, SDK_SECRET, now=vector_time(vector)) == (
        "payload_hash does not match the body"
    )


def test_a_token_made_by_pyjwt_with_another_issuer_or_no_exp_is_refused() -> None:
    """Tokens from an independent encoder (PyJWT): verified, and refused when MessageBird's
    required claims are wrong."""
    vector = valid("Valid JWT with no URL parameters or payload - GET")
    now = vector_time(vector)
    claims = jwt.decode(vector["token"], options={"verify_signature": False})

    def with_claims(**changes: Any) -> SignedRequest:
        updated = {key: value for key, value in (claims | changes).items() if value is not None}
        token = jwt.encode(updated, SDK_SECRET, algorithm="HS512")
        return vector_request(vector, headers={"messagebird-signature-jwt": token})

    verify(with_claims(), SDK_SECRET, now=now)
    assert refusal(with_claims(iss="Somebody"), SDK_SECRET, now=now) == (
        "token issuer is not MessageBird"
    )
    assert refusal(with_claims(exp=None), SDK_SECRET, now=now) == "token has no numeric exp claim"
    assert refusal(with_claims(nbf="soon"), SDK_SECRET, now=now) == (
        "token has no numeric nbf claim"
    )
    assert refusal(with_claims(url_hash=None), SDK_SECRET, now=now) == (
        "token has no url_hash claim"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        hs256_other = jwt.encode(claims, "short", algorithm="HS256")
    request = vector_request(vector, headers={"messagebird-signature-jwt": hs256_other})
    assert refusal(request, SDK_SECRET, now=now) == "signature does not match"


def test_no_public_url_means_no_url_to_check() -> None:
    vector = valid("Valid JWT with no URL parameters or payload - GET")
    assert refusal(vector_request(vector, url=""), SDK_SECRET, now=vector_time(vector)) == (
        "no public_url to check url_hash against"
    )


def test_signing_makes_what_verification_accepts() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    unsigned = SignedRequest(
        method="POST",
        url="https://callbox.example/hooks/mb",
        headers={"content-type": "application/x-www-form-urlencoded"},
        query_string="",
        body=b"originator=31612345678&body=STOP",
        content_type="application/x-www-form-urlencoded",
    )
    signed = sign_request(unsigned, OTHER_KEY, RECEIVER, now)
    token = signed.headers["messagebird-signature-jwt"]
    claims = jwt.decode(  # PyJWT checks the signature; the clock is 2024 here, not now
        token,
        OTHER_KEY,
        algorithms=["HS256"],
        issuer="MessageBird",
        options={"verify_exp": False, "verify_nbf": False},
    )
    assert claims["exp"] - claims["nbf"] == 60
    assert claims["payload_hash"] == hashlib.sha256(unsigned.body).hexdigest()
    assert claims["url_hash"] == hashlib.sha256(unsigned.url.encode()).hexdigest()
    verify_signature(signed, [load_signing_key(OTHER_KEY)], RECEIVER, now)
    with pytest.raises(SignatureRejected, match="signature does not match"):
        verify_signature(signed, [load_signing_key(SDK_SECRET)], RECEIVER, now)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the signing key is empty"),
        ("   ", "the signing key is empty"),
        ("two words", "printable ASCII without spaces"),
        ("clé", "printable ASCII without spaces"),
        ("tab\there", "printable ASCII without spaces"),
    ],
)
def test_load_key_refuses_what_is_no_signing_key(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        load_signing_key(text)


def test_scheme_signs_the_url_and_needs_a_public_url() -> None:
    assert SIGNATURE.needs_public_url
    assert SIGNATURE.sign is not None
    assert SIGNATURE.load_key(f"  {OTHER_KEY}\n") == OTHER_KEY.encode()


# Status reports -------------------------------------------------------------------------------

STATUS_QUERY = {
    "datacoding": "plain",
    "id": "b6aae1b5dfb2427a8f7ea6a717ba31a9",
    "mccmnc": "310010",
    "messageLength": "4",
    "messagePartCount": "1",
    "ported": "0",
    "price[amount]": "0.000",
    "price[currency]": "USD",
    "recipient": "18885551515",
    "reference": "019a0719-ac96-7eb9-a837-cac215164834",
    "statusDatetime": "2023-07-28T17:57:12+00:00",
}
MESSAGE = "b6aae1b5dfb2427a8f7ea6a717ba31a9:+18885551515"
REPORT_METADATA = {
    "datacoding": "plain",
    "mccmnc": "310010",
    "messageLength": "4",
    "messagePartCount": "1",
    "ported": "0",
    "price[amount]": "0.000",
    "price[currency]": "USD",
}
AT = datetime(2023, 7, 28, 17, 57, 12, tzinfo=UTC)


def get(**fields: str) -> InboundRequest:
    query = urlencode(STATUS_QUERY | fields)
    return InboundRequest.from_stored("GET", None, {}, b"", query)


def form(body: str, content_type: str = "application/x-www-form-urlencoded") -> InboundRequest:
    return InboundRequest(method="POST", body=body.encode(), content_type=content_type)


def rejection(request: InboundRequest) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(request, RECEIVER)
    return caught.value.reason


def test_courier_status_report_sent() -> None:
    assert parse(get(status="sent"), RECEIVER) == [
        StatusReported(
            dedupe_key=f"receipt:{MESSAGE}:sent:202307281757120000",
            provider_message_id=MESSAGE,
            channel=Channel.SMS,
            status=Status.SENT,
            provider_status="sent",
            failure_reason=None,
            occurred_at=AT,
            recipient="+18885551515",
            reference="019a0719-ac96-7eb9-a837-cac215164834",
            metadata=REPORT_METADATA,
        )
    ]


EXPECTED_STATUSES = [
    ("scheduled", Status.PENDING, None),
    ("sent", Status.SENT, None),
    ("buffered", Status.SENT, None),
    ("delivered", Status.DELIVERED, None),
    ("expired", Status.FAILED, FailureReason.EXPIRED),
    ("delivery_failed", Status.FAILED, FailureReason.UNKNOWN),
]


def test_every_mapped_status_is_tested() -> None:
    assert {word for word, _, _ in EXPECTED_STATUSES} == set(MESSAGEBIRD_STATUSES)


@pytest.mark.parametrize(("word", "status", "reason"), EXPECTED_STATUSES)
def test_status_mapping(word: str, status: Status, reason: FailureReason | None) -> None:
    [event] = parse(get(status=word), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason, event.provider_status) == (status, reason, word)


def test_unknown_status_is_kept_as_unknown() -> None:
    [event] = parse(get(status="Carrier_Pigeon"), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason, event.provider_status) == (
        Status.UNKNOWN,
        None,
        "Carrier_Pigeon",
    )


def test_status_words_match_case_insensitively() -> None:
    [event] = parse(get(status="Delivered"), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.provider_status) == (Status.DELIVERED, "Delivered")


def test_stop_error_code_blocks_the_message_and_opts_the_recipient_out() -> None:
    report, opt_out = parse(
        get(status="delivery_failed", statusErrorCode="103", statusReason="recipient opted out"),
        RECEIVER,
    )
    assert isinstance(report, StatusReported)
    assert (report.status, report.failure_reason) == (Status.FAILED, FailureReason.BLOCKED)
    assert report.metadata == REPORT_METADATA | {
        "statusErrorCode": "103",
        "statusReason": "recipient opted out",
    }
    assert opt_out == OptOutReported(
        dedupe_key=f"optout:{MESSAGE}",
        address="+18885551515",
        channel=Channel.SMS,
        occurred_at=AT,
        source="status",
        provider_message_id=MESSAGE,
    )


def test_another_error_code_is_only_kept() -> None:
    [report] = parse(get(status="delivery_failed", statusErrorCode="1"), RECEIVER)
    assert isinstance(report, StatusReported)
    assert (report.status, report.failure_reason) == (Status.FAILED, FailureReason.UNKNOWN)
    assert report.metadata["statusErrorCode"] == "1"


def test_each_recipient_of_one_message_is_its_own_message() -> None:
    [first] = parse(get(status="delivered"), RECEIVER)
    [second] = parse(get(status="delivered", recipient="31612345678"), RECEIVER)
    assert isinstance(first, StatusReported) and isinstance(second, StatusReported)
    assert (first.provider_message_id, second.provider_message_id) == (
        MESSAGE,
        "b6aae1b5dfb2427a8f7ea6a717ba31a9:+31612345678",
    )
    assert first.dedupe_key != second.dedupe_key


def test_dedupe_keys_are_stable_and_distinct() -> None:
    def key(**fields: str) -> str:
        return parse(get(**fields), RECEIVER)[0].dedupe_key

    assert key(status="sent") == key(status="sent")
    assert len({key(status="sent"), key(status="buffered"), key(status="delivered")}) == 3
    later = key(status="buffered", statusDatetime="2023-07-28T18:57:12+00:00")
    assert later != key(status="buffered")


def test_a_report_posted_as_a_form_is_read_too() -> None:
    [event] = parse(form(urlencode(STATUS_QUERY | {"status": "delivered"})), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.provider_message_id, event.status) == (MESSAGE, Status.DELIVERED)


def test_a_naive_status_time_is_read_in_the_receiver_timezone() -> None:
    amsterdam = ReceiverContext(name="mb", timezone=ZoneInfo("Europe/Amsterdam"))
    [event] = parse(get(status="sent", statusDatetime="2023-07-28T19:57:12"), amsterdam)
    assert event.occurred_at == AT


# Inbound messages -----------------------------------------------------------------------------


def sample(description: str) -> list[Any]:
    [found] = [s for s in PROVIDER.samples if s.description == description]
    return parse_sample(PROVIDER, found)


def test_long_number_sample() -> None:
    assert sample("Inbound SMS to a long number (form POST)") == [
        MessageReceived(
            dedupe_key="inbound:3b53c137369242138120d6b0b2122607",
            provider_message_id="3b53c137369242138120d6b0b2122607",
            channel=Channel.SMS,
            sender="+18885551515",
            recipient="+18005551515",
            body="Test 3",  # the last of a repeated name, as courier reads it
            occurred_at=datetime(2023, 7, 27, 0, 49, 29, tzinfo=UTC),
            metadata={"date": "1690386569", "reference": "1"},
        )
    ]


def test_shortcode_sample_uses_mid_message_and_the_shortcode() -> None:
    [event] = sample("Inbound SMS to a shortcode (form POST)")
    assert isinstance(event, MessageReceived)
    assert (event.provider_message_id, event.body, event.recipient, event.sender) == (
        "5d2e8a0c41f34b6f9c7e1a2b3c4d5e6f",
        "Test again",
        "51515",
        "+18885551515",
    )
    assert event.occurred_at == datetime(2023, 7, 27, 0, 49, 29, tzinfo=UTC)


def test_shortcode_time_is_read_in_the_receiver_timezone() -> None:
    amsterdam = ReceiverContext(name="mb", timezone=ZoneInfo("Europe/Amsterdam"))
    body = (
        "shortcode=3008&mid=1&originator=31612345678&message=STOP&receive_datetime=20240115093000"
    )
    [event] = parse(form(body), amsterdam)
    assert isinstance(event, MessageReceived)
    assert event.occurred_at == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)
    assert event.body == "STOP"  # the store opts the sender out by keyword


def test_mms_sample_keeps_the_media_urls() -> None:
    [event] = sample("Inbound MMS with an image (form POST)")
    assert isinstance(event, MessageReceived)
    assert event.provider_message_id == "b6aae1b5dfb2427a8f7ea6a717ba31a9"
    assert event.body == "Test again"
    assert event.metadata == {
        "date": "1690386569",
        "reference": "1",
        "media_urls": ["https://foo.bar/image.jpg"],
    }


def test_every_spelling_of_media_urls_is_kept_in_order() -> None:
    body = urlencode(
        [
            ("id", "m1"),
            ("originator", "31612345678"),
            ("recipient", "3197010260000"),
            ("subject", "Photos"),
            ("mediaUrls[]", "https://a.example/1.jpg"),
            ("mediaUrls[1]", "https://a.example/2.jpg"),
            ("mediaURLs", "https://a.example/3.jpg"),
            ("createdDatetime", "2024-01-15T09:30:00+01:00"),
        ]
    )
    [event] = parse(form(body), RECEIVER)
    assert isinstance(event, MessageReceived)
    assert event.body is None
    assert event.metadata == {
        "subject": "Photos",
        "media_urls": [
            "https://a.example/1.jpg",
            "https://a.example/2.jpg",
            "https://a.example/3.jpg",
        ],
    }
    assert event.occurred_at == datetime(2024, 1, 15, 8, 30, tzinfo=UTC)


def test_date_utc_is_the_last_resort_for_the_time() -> None:
    [event] = parse(form("id=m2&originator=31612345678&body=hi&date_utc=1690418969"), RECEIVER)
    assert event.occurred_at == datetime(2023, 7, 27, 0, 49, 29, tzinfo=UTC)


def test_samples_cover_every_kind() -> None:
    kinds = [
        {type(event) for event in parse_sample(PROVIDER, sample)} for sample in PROVIDER.samples
    ]
    assert {StatusReported} in kinds
    assert {StatusReported, OptOutReported} in kinds
    assert {MessageReceived} in kinds
    assert {sample.method for sample in PROVIDER.samples} == {"GET", "POST"}


# Rejections -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (
            InboundRequest(method="GET", body=b"", content_type=""),
            "empty callback: expected a status report (query id, recipient, status) or an"
            " inbound message (form originator, recipient, body)",
        ),
        (
            form('{"status": "sent"}', "application/json"),
            "expected a form-encoded body (application/x-www-form-urlencoded) or query"
            " parameters, got application/json starting with b'{'",
        ),
        (
            form("foo=1&bar=2"),
            "unrecognised MessageBird callback (fields: bar, foo): expected 'status' (a status"
            " report) or 'originator' (an inbound message)",
        ),
        (get(status="sent", id=""), "missing required field 'id'"),
        (get(status="sent", recipient=""), "missing required field 'recipient'"),
        (
            get(status="sent", statusDatetime="yesterday"),
            "statusDatetime: not a timestamp: 'yesterday'",
        ),
        (
            form("originator=31612345678&body=hi"),
            "missing required field 'id' (or 'mid' for a shortcode)",
        ),
        (form("id=1&originator=&body=hi"), "missing required field 'originator'"),
        (
            form("shortcode=3008&mid=1&originator=31612345678&receive_datetime=20241399000000"),
            "receive_datetime: not a date: '20241399000000'",
        ),
    ],
    ids=[
        "empty",
        "json",
        "unknown-fields",
        "no-id",
        "no-recipient",
        "bad-status-time",
        "inbound-no-id",
        "inbound-no-originator",
        "bad-shortcode-time",
    ],
)
def test_junk_is_rejected_with_a_reason(request_: InboundRequest, reason: str) -> None:
    assert rejection(request_) == reason


def test_a_body_that_is_not_utf8_is_rejected() -> None:
    request = InboundRequest(
        method="POST",
        body=b"id=1&originator=\xff",
        content_type="application/x-www-form-urlencoded",
    )
    assert rejection(request) == "body is not valid UTF-8 (byte 16)"


# The documentation's receiver --------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "messagebird.md"


def test_the_documented_receiver_is_a_valid_signed_receiver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    [config] = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    path = tmp_path / "callbox.toml"
    path.write_text(config)
    monkeypatch.setenv("MESSAGEBIRD_SIGNING_KEY", OTHER_KEY)
    assert main(["check-config", str(path)]) == 0
    assert "OK (1 receiver" in capsys.readouterr().out
    monkeypatch.setenv("MESSAGEBIRD_SIGNING_KEY", "two words")
    assert main(["check-config", str(path)]) != 0
    assert "not a MessageBird signing key" in capsys.readouterr().err
    path.write_text(config.replace("public_url", "# public_url"))
    assert main(["check-config", str(path)]) != 0
    assert "set this receiver's public_url" in capsys.readouterr().err
