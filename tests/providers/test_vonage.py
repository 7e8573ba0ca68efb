"""Vonage: the SMS API's sig parameter and the Messages API's JWT against the official SDKs'
own test vectors (and tampered copies), the attacks a signature must stop, and the parsing of
every sample and of the formats Vonage really sends."""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jwt
import pytest

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    InboundRequest,
    MessagePart,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    SignatureRejected,
    SignedRequest,
    StatusReported,
)
from callbox.providers.vonage import (
    PROVIDER,
    SignatureMethod,
    VonageOptions,
    load_signature_secret,
    parse,
    sign,
    verify,
)
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, ConfigError, Receiver, settings_from_mapping
from tests.providers.contract import parse_sample

DOCS = Path(__file__).resolve().parents[2] / "docs" / "vonage.md"

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

# Vonage/vonage-node-sdk packages/sms/__tests__/__dataSets__/signature.ts (4b9aab742201), as
# copied to /work/shared/payloads/vonage/signature_test_vectors__vonage-node-sdk.json.
NODE_SECRET = "my_secret_key_for_testing"
NODE_PARAMS = {
    "message-timestamp": "2013-11-21 15:27:30",
    "messageId": "020000001B0FE827",
    "msisdn": "14843472194",
    "text": "Test again",
    "timestamp": "1385047698",
    "to": "13239877404",
    "type": "text",
}
NODE_SIGNED_AT = datetime.fromtimestamp(1385047698, UTC)
NODE_SIGNATURES: dict[SignatureMethod, str] = {
    "md5hash": "d2e7b1dc968737c5998ad624e02f90b7",
    "md5": "DDEBD46008C2D4E93CCE578A332A52D5",
    "sha1": "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A",
    "sha256": "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330",
    "sha512": (
        "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165E"
        "CD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82"
    ),
}

# Vonage/vonage-python-sdk http_client/tests/test_auth.py: check_signature's valid vector (its
# default method is HMAC-MD5: the SDK's "md5"), and sign_params' vectors, one with & and = in
# values. The timestamp is a JSON integer there, as a JSON body may carry it.
PYTHON_SECRET = "signature_secret"
PYTHON_VECTORS: list[tuple[SignatureMethod, dict[str, Any], str]] = [
    ("md5", {"param": "value", "timestamp": 1234567890}, "655a4d0b7f064dff438defc52b012cf5"),
    (
        "md5",
        {"param1": "value1", "param2": "value2", "timestamp": 1234567890},
        "724c2bf6ca423c36e20631b11d1c5753",
    ),
    (
        "md5",
        {"param1": "value&1", "param2": "value=2", "timestamp": 1234567890},
        "2bbf0abafb2c55e5af6231513896a2ac",
    ),
    (
        "sha256",
        {"param1": "value1", "param2": "value2", "timestamp": 1234567890},
        "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287",
    ),
]
PYTHON_SIGNED_AT = datetime.fromtimestamp(1234567890, UTC)

# Vonage/vonage-python-sdk jwt/tests/test_verify_jwt.py: a valid HS256 token and its secret
# (no payload_hash claim: the SDK checks the signature alone).
JWT_VECTOR = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2"
    "MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQH"
    "ZTC29y6CGM"
)
JWT_SECRET = "qwertyuiopasdfghjklzxcvbnm123456"
JWT_ISSUED_AT = datetime.fromtimestamp(1697634680, UTC)

SECRET = "a-vonage-signature-secret-0123456789"
OLD_SECRET = "the-previous-signature-secret-9876543"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def sms_receiver(method: SignatureMethod = "md5hash", **context: Any) -> ReceiverContext:
    return ReceiverContext(name="vonage", options=VonageOptions(signature_method=method), **context)


MESSAGES = ReceiverContext(name="vonage-messages", options=VonageOptions(api="messages"))
SMS = sms_receiver()


def keys(*secrets: str) -> list[bytes]:
    return [load_signature_secret(secret) for secret in secrets]


def form_request(params: dict[str, Any] | list[tuple[str, str]]) -> SignedRequest:
    body = urlencode(params).encode()
    return SignedRequest("POST", "", {"content-type": FORM}, "", body, FORM)


def get_request(params: dict[str, Any]) -> SignedRequest:
    query = urlencode(params)
    return SignedRequest("GET", f"https://callbox.example/hooks/vonage?{query}", {}, query, b"", "")


def json_request(document: dict[str, Any], headers: dict[str, str] | None = None) -> SignedRequest:
    body = json.dumps(document).encode()
    return SignedRequest("POST", "", {"content-type": JSON, **(headers or {})}, "", body, JSON)


def rejection(
    request: SignedRequest,
    secrets: list[bytes],
    receiver: ReceiverContext = SMS,
    now: datetime = NOW,
) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(request, secrets, receiver, now)
    return caught.value.reason


# --- SMS API: the SDKs' vectors ---------------------------------------------------------------


@pytest.mark.parametrize("method", NODE_SIGNATURES)
@pytest.mark.parametrize("build", [form_request, get_request, json_request])
def test_node_sdk_vectors_verify_in_every_encoding(method: SignatureMethod, build: Any) -> None:
    request = build({**NODE_PARAMS, "sig": NODE_SIGNATURES[method]})
    verify(request, keys(NODE_SECRET), sms_receiver(method), NODE_SIGNED_AT)


@pytest.mark.parametrize("method", NODE_SIGNATURES)
def test_node_sdk_vectors_verify_whatever_order_the_parameters_come_in(
    method: SignatureMethod,
) -> None:
    shuffled = [("sig", NODE_SIGNATURES[method]), *reversed(NODE_PARAMS.items())]
    verify(form_request(shuffled), keys(NODE_SECRET), sms_receiver(method), NODE_SIGNED_AT)


@pytest.mark.parametrize("method", NODE_SIGNATURES)
def test_node_sdk_vectors_compare_case_insensitively(method: SignatureMethod) -> None:
    for sig in (NODE_SIGNATURES[method].lower(), NODE_SIGNATURES[method].upper()):
        request = form_request({**NODE_PARAMS, "sig": sig})
        verify(request, keys(NODE_SECRET), sms_receiver(method), NODE_SIGNED_AT)


@pytest.mark.parametrize("method", NODE_SIGNATURES)
@pytest.mark.parametrize(
    "tampered",
    [
        {"text": "Test agaim"},
        {"msisdn": "14843472195"},
        {"messageId": "020000001B0FE828"},
        {"timestamp": "1385047699"},
    ],
    ids=["text", "msisdn", "messageId", "timestamp"],
)
def test_node_sdk_vectors_refuse_a_tampered_value(
    method: SignatureMethod, tampered: dict[str, str]
) -> None:
    request = form_request({**NODE_PARAMS, **tampered, "sig": NODE_SIGNATURES[method]})
    reason = rejection(request, keys(NODE_SECRET), sms_receiver(method), NODE_SIGNED_AT)
    assert reason == "signature does not match"


@pytest.mark.parametrize("method", NODE_SIGNATURES)
def test_node_sdk_vectors_refuse_another_method(method: SignatureMethod) -> None:
    """The receiver must name the dashboard's method: another one never verifies."""
    request = form_request({**NODE_PARAMS, "sig": NODE_SIGNATURES[method]})
    for other in NODE_SIGNATURES:
        if other != method:
            reason = rejection(request, keys(NODE_SECRET), sms_receiver(other), NODE_SIGNED_AT)
            assert reason == "signature does not match"


@pytest.mark.parametrize(("method", "params", "sig"), PYTHON_VECTORS)
def test_python_sdk_vectors_verify_as_json_with_an_integer_timestamp(
    method: SignatureMethod, params: dict[str, Any], sig: str
) -> None:
    request = json_request({**params, "sig": sig})
    verify(request, keys(PYTHON_SECRET), sms_receiver(method), PYTHON_SIGNED_AT)
    tampered = json_request({**params, "param9": "added", "sig": sig})
    reason = rejection(tampered, keys(PYTHON_SECRET), sms_receiver(method), PYTHON_SIGNED_AT)
    assert reason == "signature does not match"


def test_python_sdk_vector_with_separators_in_values_needs_the_underscore_rule() -> None:
    """``value&1`` and ``value=2`` are signed as ``value_1``/``value_2``: the same values
    with the separators already replaced verify too, other characters do not."""
    method, _, sig = PYTHON_VECTORS[2]
    replaced = json_request({"param1": "value_1", "param2": "value_2", "timestamp": 1234567890})
    document = json.loads(replaced.body) | {"sig": sig}
    verify(json_request(document), keys(PYTHON_SECRET), sms_receiver(method), PYTHON_SIGNED_AT)
    other = {"param1": "value-1", "param2": "value_2", "timestamp": 1234567890, "sig": sig}
    reason = rejection(
        json_request(other), keys(PYTHON_SECRET), sms_receiver(method), PYTHON_SIGNED_AT
    )
    assert reason == "signature does not match"


# --- SMS API: what a signature must stop -------------------------------------------------------


def signed_form(secret: str = SECRET, method: SignatureMethod = "md5hash") -> SignedRequest:
    unsigned = form_request({k: v for k, v in NODE_PARAMS.items() if k != "timestamp"})
    return sign(unsigned, secret, sms_receiver(method), NOW)


@pytest.mark.parametrize("method", NODE_SIGNATURES)
def test_our_signature_verifies_with_the_key_and_not_another(method: SignatureMethod) -> None:
    request = signed_form(method=method)
    verify(request, keys(SECRET), sms_receiver(method), NOW)
    assert rejection(request, keys(OLD_SECRET), sms_receiver(method)) == (
        "signature does not match"
    )


def test_a_rotated_key_verifies_when_it_is_second_in_the_list() -> None:
    verify(signed_form(SECRET), keys(OLD_SECRET, SECRET), SMS, NOW)
    verify(signed_form(OLD_SECRET), keys(OLD_SECRET, SECRET), SMS, NOW)


def test_missing_sig_and_timestamp_are_named() -> None:
    params = dict(form_request_params(signed_form()))
    without_sig = {k: v for k, v in params.items() if k != "sig"}
    assert rejection(form_request(without_sig), keys(SECRET)) == "missing sig parameter"
    without_timestamp = {k: v for k, v in params.items() if k != "timestamp"}
    assert rejection(form_request(without_timestamp), keys(SECRET)) == (
        "missing timestamp parameter"
    )


def form_request_params(request: SignedRequest) -> list[tuple[str, str]]:
    return parse_qsl(request.body.decode(), keep_blank_values=True)


def test_a_timestamp_outside_the_window_is_refused_after_the_signature_matched() -> None:
    request = signed_form()
    verify(request, keys(SECRET), SMS, NOW + timedelta(seconds=300))
    verify(request, keys(SECRET), SMS, NOW - timedelta(seconds=300))
    for now in (NOW + timedelta(seconds=301), NOW - timedelta(seconds=301)):
        assert rejection(request, keys(SECRET), now=now) == "timestamp outside the 300 s window"


def test_a_parameter_added_in_transit_is_refused() -> None:
    request = signed_form()
    added = form_request([*form_request_params(request), ("keyword", "FREE")])
    assert rejection(added, keys(SECRET)) == "signature does not match"
    in_the_query = SignedRequest("GET", "", {}, request.body.decode() + "&x=1", b"", "")
    assert rejection(in_the_query, keys(SECRET)) == "signature does not match"


def test_a_form_body_re_encoded_by_a_proxy_is_refused() -> None:
    """A proxy writing ``+`` for an encoded ``%2B`` changes the text (``+`` is a space)."""
    unsigned = form_request({**NODE_PARAMS, "text": "1+1=2"})
    request = sign(unsigned, SECRET, SMS, NOW)
    assert b"text=1%2B1%3D2" in request.body
    verify(request, keys(SECRET), SMS, NOW)
    re_encoded = request.body.replace(b"1%2B1%3D2", b"1+1%3D2")
    proxied = SignedRequest("POST", "", request.headers, "", re_encoded, FORM)
    assert rejection(proxied, keys(SECRET)) == "signature does not match"


def test_a_parameter_sent_twice_is_refused() -> None:
    params = form_request_params(signed_form())
    doubled = form_request([*params, ("text", "Test again")])
    assert rejection(doubled, keys(SECRET)) == "parameter 'text' appears twice"


def test_unreadable_bodies_are_refused_with_a_reason() -> None:
    assert rejection(json_request({"sig": ["x"], "timestamp": "1"}), keys(SECRET)) == (
        "parameter 'sig' is not text: cannot check the sig parameter"
    )
    body = b'{"sig": '
    broken = SignedRequest("POST", "", {}, "", body, JSON)
    assert rejection(broken, keys(SECRET)) == "body is not JSON: cannot check the sig parameter"
    request = form_request({"sig": "00", "timestamp": "yesterday"})
    assert rejection(request, keys(SECRET)) == "timestamp is not a unix timestamp"


def test_signed_json_keeps_the_documents_fields_and_order() -> None:
    sample = PROVIDER.samples[0]
    unsigned = SignedRequest("POST", "", {"content-type": JSON}, "", sample.body, JSON)
    request = sign(unsigned, SECRET, sms_receiver("sha256"), NOW)
    document = json.loads(request.body)
    original = json.loads(sample.body)
    assert list(document) == list(original)
    assert document["timestamp"] == str(int(NOW.timestamp()))
    assert document["nonce"] != original["nonce"]
    assert document["sig"] == document["sig"].upper()  # as Vonage sends HMACs
    verify(request, keys(SECRET), sms_receiver("sha256"), NOW)


# --- Messages API: the JWT ---------------------------------------------------------------------


def test_python_sdk_jwt_vector_verifies_its_signature() -> None:
    """The SDK's token carries no payload_hash: our verifier accepts its signature with its
    secret (and only then asks for the claim the Messages API adds)."""
    request = json_request({}, {"authorization": f"Bearer {JWT_VECTOR}"})
    assert rejection(request, keys(JWT_SECRET), MESSAGES, JWT_ISSUED_AT) == (
        "the JWT has no payload_hash claim"
    )
    # Rotation: the vector's secret second in the list.
    assert rejection(request, keys(SECRET, JWT_SECRET), MESSAGES, JWT_ISSUED_AT) == (
        "the JWT has no payload_hash claim"
    )


def tampered_vector(part: int, change: Any) -> str:
    """The SDK's token with one segment decoded, changed and re-encoded (signature kept)."""
    from jwt.utils import base64url_decode, base64url_encode

    segments = JWT_VECTOR.split(".")
    document = json.loads(base64url_decode(segments[part]))
    segments[part] = base64url_encode(json.dumps(change(document)).encode()).decode()
    return ".".join(segments)


@pytest.mark.parametrize(
    "token",
    [
        tampered_vector(1, lambda claims: claims | {"iat": claims["iat"] + 1}),
        tampered_vector(1, lambda claims: claims | {"payload_hash": "0" * 64}),
        tampered_vector(0, lambda header: {"alg": "HS256", "typ": "JWT"}),  # re-ordered
        JWT_VECTOR[:-2] + ("AA" if not JWT_VECTOR.endswith("AA") else "BB"),
    ],
    ids=["iat", "payload_hash-added", "header-re-encoded", "signature"],
)
def test_python_sdk_jwt_vector_tampered_is_refused(token: str) -> None:
    request = json_request({}, {"authorization": f"Bearer {token}"})
    reason = rejection(request, keys(JWT_SECRET), MESSAGES, JWT_ISSUED_AT)
    assert reason == "signature does not match"


def test_python_sdk_jwt_vector_with_another_secret_is_refused() -> None:
    request = json_request({}, {"authorization": f"Bearer {JWT_VECTOR}"})
    assert rejection(request, keys(SECRET), MESSAGES, JWT_ISSUED_AT) == "signature does not match"


def messages_status_body() -> bytes:
    return json.dumps(
        {
            "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            "to": "447700900000",
            "from": "447700900001",
            "timestamp": "2020-01-01T14:00:00.000Z",
            "status": "delivered",
            "channel": "sms",
        },
        indent=3,
    ).encode()


def jwt_request(claims: dict[str, Any], secret: str = SECRET, body: bytes | None = None) -> Any:
    token = jwt.encode(claims, secret, algorithm="HS256")
    payload = messages_status_body() if body is None else body
    headers = {"content-type": JSON, "authorization": f"Bearer {token}"}
    return SignedRequest("POST", "", headers, "", payload, JSON)


def vonage_claims(body: bytes, issued_at: datetime = NOW) -> dict[str, Any]:
    """The claims the Messages API signs (developer.vonage.com "Signed webhooks")."""
    return {
        "iat": int(issued_at.timestamp()),
        "jti": "b1e7e8d6-3f1a-4c1e-8a36-2f6a4f0d8c11",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "abcd1234",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    }


def test_a_messages_jwt_made_by_pyjwt_verifies() -> None:
    body = messages_status_body()
    verify(jwt_request(vonage_claims(body)), keys(SECRET), MESSAGES, NOW)
    verify(jwt_request(vonage_claims(body)), keys(OLD_SECRET, SECRET), MESSAGES, NOW)
    assert rejection(jwt_request(vonage_claims(body)), keys(OLD_SECRET), MESSAGES) == (
        "signature does not match"
    )


def test_a_messages_body_re_encoded_or_changed_is_refused() -> None:
    body = messages_status_body()
    request = jwt_request(vonage_claims(body))
    re_encoded = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    proxied = SignedRequest("POST", "", request.headers, "", re_encoded, JSON)
    assert rejection(proxied, keys(SECRET), MESSAGES) == "payload_hash does not match the body"
    added = json.loads(body) | {"client_ref": "added"}
    changed = SignedRequest("POST", "", request.headers, "", json.dumps(added).encode(), JSON)
    assert rejection(changed, keys(SECRET), MESSAGES) == "payload_hash does not match the body"


def test_messages_jwt_replay_window_and_expiry() -> None:
    body = messages_status_body()
    old = jwt_request(vonage_claims(body, NOW - timedelta(seconds=301)))
    assert rejection(old, keys(SECRET), MESSAGES) == "timestamp outside the 300 s window"
    verify(
        jwt_request(vonage_claims(body, NOW - timedelta(seconds=300))), keys(SECRET), MESSAGES, NOW
    )
    expired = jwt_request(vonage_claims(body) | {"exp": int(NOW.timestamp()) - 1})
    assert rejection(expired, keys(SECRET), MESSAGES) == "the JWT has expired"
    no_iat = {k: v for k, v in vonage_claims(body).items() if k != "iat"}
    assert rejection(jwt_request(no_iat), keys(SECRET), MESSAGES) == "the JWT has no iat claim"


def test_messages_jwt_header_problems_are_named() -> None:
    body = messages_status_body()
    missing = SignedRequest("POST", "", {"content-type": JSON}, "", body, JSON)
    assert rejection(missing, keys(SECRET), MESSAGES) == "missing Authorization header"
    basic = SignedRequest("POST", "", {"authorization": "Basic dXNlcjpwdw=="}, "", body, JSON)
    assert rejection(basic, keys(SECRET), MESSAGES) == (
        "the Authorization header is not a Bearer token"
    )
    not_jwt = SignedRequest("POST", "", {"authorization": "Bearer abc"}, "", body, JSON)
    assert rejection(not_jwt, keys(SECRET), MESSAGES) == "the Bearer token is not a JWT"
    unsigned = jwt.encode(vonage_claims(body), None, algorithm="none")
    none = SignedRequest("POST", "", {"authorization": f"Bearer {unsigned}"}, "", body, JSON)
    assert rejection(none, keys(SECRET), MESSAGES) == "the JWT is not signed with HS256"
    hs512 = jwt.encode(vonage_claims(body), SECRET * 2, algorithm="HS512")
    other = SignedRequest("POST", "", {"authorization": f"Bearer {hs512}"}, "", body, JSON)
    assert rejection(other, keys(SECRET), MESSAGES) == "the JWT is not signed with HS256"


def test_an_sms_api_signature_does_not_pass_a_messages_receiver() -> None:
    request = signed_form()
    assert rejection(request, keys(SECRET), MESSAGES) == "missing Authorization header"


# --- Keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "secret with spaces", "secret\n", "s\u00e9cret"])
def test_a_malformed_signature_secret_is_a_config_error(text: str) -> None:
    with pytest.raises(ValueError, match="signature secret"):
        load_signature_secret(text)


def test_a_receiver_with_a_malformed_secret_does_not_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VONAGE_TEST_SECRET", "two words")
    receiver = Receiver(
        name="vonage", provider="vonage", auth=Auth(signature=["env:VONAGE_TEST_SECRET"])
    )
    with pytest.raises(ConfigError, match=r"signature\[0\]: not a Vonage signature secret"):
        prepare_receiver(receiver, 0)


def test_the_receivers_in_the_docs_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), flags=re.DOTALL)
    assert len(blocks) == 3
    for block in blocks:
        for name in re.findall(r"env:([A-Z_]+)", block):
            monkeypatch.setenv(name, f"{name.lower()}-0123456789abcdef")
        [receiver] = settings_from_mapping(tomllib.loads(block)).receivers
        ready = prepare_receiver(receiver, 0)
        assert ready.verifies_signatures
        assert isinstance(ready.context.options, VonageOptions)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(ValueError, match="vonage option"):
        Receiver(name="vonage", provider="vonage", options={"api": "voice"})
    with pytest.raises(ValueError, match="vonage option"):
        Receiver(name="vonage", provider="vonage", options={"signature_method": "sha384"})


# --- Parsing: the samples ------------------------------------------------------------------------


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_signed_json_delivery_receipt_sample() -> None:
    assert parse_sample(PROVIDER, PROVIDER.samples[0]) == [
        StatusReported(
            dedupe_key="receipt:0A0000001234567B:delivered",
            provider_message_id="0A0000001234567B",
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="delivered",
            failure_reason=None,
            occurred_at=utc("2020-01-01T12:00:00"),
            recipient="+447700900000",
            sender="AcmeInc",
            reference="my-personal-reference",
            metadata={
                "network-code": "12345",
                "price": "0.03330000",
                "err-code": "0",
                "scts": "2001011400",
            },
        )
    ]


def test_opted_out_receipt_sample_is_a_blocked_failure_and_an_opt_out() -> None:
    message_id = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    assert parse_sample(PROVIDER, PROVIDER.samples[1]) == [
        StatusReported(
            dedupe_key=f"receipt:{message_id}:failed",
            provider_message_id=message_id,
            channel=Channel.SMS,
            status=Status.FAILED,
            provider_status="failed",
            failure_reason=FailureReason.BLOCKED,
            occurred_at=utc("2020-01-01T12:00:00"),
            recipient="+447700900000",
            sender="AcmeInc",
            metadata={
                "network-code": "12345",
                "price": "0.00000000",
                "err-code": "9",
                "scts": "2001011400",
            },
        ),
        OptOutReported(
            dedupe_key=f"optout:{message_id}",
            address="+447700900000",
            channel=Channel.SMS,
            occurred_at=utc("2020-01-01T12:00:00"),
            source="status",
            provider_message_id=message_id,
        ),
    ]


def test_get_delivery_receipt_sample() -> None:
    [event] = parse_sample(PROVIDER, PROVIDER.samples[2])
    assert event == StatusReported(
        dedupe_key="receipt:0C0000002EEBDA56:delivered",
        provider_message_id="0C0000002EEBDA56",
        channel=Channel.SMS,
        status=Status.DELIVERED,
        provider_status="delivered",
        failure_reason=None,
        occurred_at=utc("2017-05-02T11:24:03"),  # message-timestamp, not the carrier's scts
        recipient="+4527631111",
        sender="Tak",
        metadata={
            "network-code": "23820",
            "price": "0.01820000",
            "err-code": "0",
            "scts": "1705021324",
        },
    )


def test_get_inbound_sample() -> None:
    [event] = parse_sample(PROVIDER, PROVIDER.samples[3])
    assert event == MessageReceived(
        dedupe_key="inbound:0B0000004B65F62F",
        provider_message_id="0B0000004B65F62F",
        channel=Channel.SMS,
        sender="+15862151111",
        recipient="+12812581111",
        body="Msg",
        occurred_at=utc("2017-05-01T21:52:49"),
        metadata={"type": "text", "keyword": "Keyword"},
    )


def test_form_inbound_sample() -> None:
    [event] = parse_sample(PROVIDER, PROVIDER.samples[4])
    assert event == MessageReceived(
        dedupe_key="inbound:020000001B0FE827",
        provider_message_id="020000001B0FE827",
        channel=Channel.SMS,
        sender="+14843472194",
        recipient="+13239877404",
        body="Test again",
        occurred_at=utc("2013-11-21T15:27:30"),
        metadata={"type": "text"},
    )


def test_inbound_part_sample_is_a_part_of_its_group() -> None:
    [event] = parse_sample(PROVIDER, PROVIDER.samples[5])
    assert event == MessageReceived(
        dedupe_key="inbound:0A0000000123ABCD1",
        provider_message_id="0A0000000123ABCD1",
        channel=Channel.SMS,
        sender="+447700900001",
        recipient="+447700900000",
        body="Hello world",
        occurred_at=utc("2020-01-01T12:00:00"),
        metadata={"type": "text", "keyword": "HELLO", "concat-ref": "1"},
        part=MessagePart(group="+447700900001>+447700900000#1", number=2, count=3),
    )


# --- Parsing: formats and rules ------------------------------------------------------------------


def parse_form(fields: dict[str, str], receiver: ReceiverContext = SMS) -> list[Any]:
    request = InboundRequest("POST", urlencode(fields).encode(), FORM)
    return list(parse(request, receiver))


def rejected(fields: dict[str, str], receiver: ReceiverContext = SMS) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse_form(fields, receiver)
    return caught.value.reason


RECEIPT = {
    "msisdn": "447700900000",
    "to": "447700900999",
    "messageId": "0A0000001234567B",
    "status": "delivered",
    "err-code": "0",
}
INBOUND = {
    "msisdn": "447700900001",
    "to": "447700900000",
    "messageId": "0A0000000123ABCD1",
    "text": "Hello",
    "type": "text",
}


@pytest.mark.parametrize(
    "value",
    ["2020-01-01 12:00:00", "2020-01-01 12:00:00 +0000", "2020-01-01T12:00:00.000+00:00"],
)
def test_message_timestamp_in_its_three_formats(value: str) -> None:
    [event] = parse_form({**RECEIPT, "message-timestamp": value})
    assert event.occurred_at == utc("2020-01-01T12:00:00")


def test_a_naive_message_timestamp_is_read_in_the_receivers_timezone() -> None:
    from zoneinfo import ZoneInfo

    receiver = sms_receiver(timezone=ZoneInfo("Europe/London"))
    [event] = parse_form({**RECEIPT, "message-timestamp": "2020-07-01 12:00:00"}, receiver)
    assert event.occurred_at == utc("2020-07-01T11:00:00")
    [event] = parse_form({**RECEIPT, "message-timestamp": "2020-07-01 12:00:00 +0000"}, receiver)
    assert event.occurred_at == utc("2020-07-01T12:00:00")


def test_scts_is_the_time_only_without_message_timestamp() -> None:
    [event] = parse_form({**RECEIPT, "scts": "2001011400"})
    assert event.occurred_at == utc("2020-01-01T14:00:00")
    assert event.metadata["scts"] == "2001011400"
    assert rejected({**RECEIPT, "scts": "20010114"}) == "scts: expected YYMMDDHHMM, got '20010114'"
    assert rejected({**RECEIPT, "scts": "2013011400"}) == (
        "scts: expected YYMMDDHHMM, got '2013011400'"
    )


@pytest.mark.parametrize(
    ("status", "error_code", "expected"),
    [
        ("failed", "2", (Status.FAILED, FailureReason.TEMPORARY)),
        ("failed", "3", (Status.FAILED, FailureReason.PERMANENT)),
        ("failed", "12", (Status.FAILED, FailureReason.INVALID_RECIPIENT)),
        ("rejected", "8", (Status.FAILED, FailureReason.TECHNICAL)),
        ("failed", "99", (Status.FAILED, FailureReason.UNKNOWN)),  # not a known code
        ("rejected", "0", (Status.FAILED, FailureReason.BLOCKED)),
        ("expired", "2", (Status.FAILED, FailureReason.EXPIRED)),  # expiry says it all
        ("accepted", "0", (Status.SENT, None)),
        ("buffered", "0", (Status.SENT, None)),
        ("unknown", "1", (Status.UNKNOWN, None)),
        ("DELIVERED", "0", (Status.DELIVERED, None)),
        ("teleported", "0", (Status.UNKNOWN, None)),
    ],
)
def test_err_code_sets_the_failure_reason_of_failed_and_rejected_receipts(
    status: str, error_code: str, expected: tuple[Status, FailureReason | None]
) -> None:
    [event] = parse_form({**RECEIPT, "status": status, "err-code": error_code})
    assert (event.status, event.failure_reason, event.provider_status) == (*expected, status)


def test_err_code_9_on_a_rejected_receipt_is_an_opt_out_too() -> None:
    events = parse_form({**RECEIPT, "status": "rejected", "err-code": "9"})
    assert [type(event) for event in events] == [StatusReported, OptOutReported]
    assert events[1].address == "+447700900000"
    delivered = parse_form({**RECEIPT, "status": "delivered", "err-code": "9"})
    assert [type(event) for event in delivered] == [StatusReported]


def test_binary_inbound_keeps_data_and_udh_without_a_body() -> None:
    fields = {k: v for k, v in INBOUND.items() if k != "text"}
    [event] = parse_form({**fields, "type": "binary", "data": "0102", "udh": "050003CC0201"})
    assert event.body is None
    assert event.metadata == {"type": "binary", "data": "0102", "udh": "050003CC0201"}


def test_unicode_text_arrives_as_text() -> None:
    [event] = parse_form({**INBOUND, "type": "unicode", "text": "Hej då 👋"})
    assert event.body == "Hej då 👋"


def test_concatenation_fields() -> None:
    concat = {**INBOUND, "concat": "true", "concat-ref": "108", "concat-total": "2"}
    [first] = parse_form({**concat, "concat-part": "1"})
    assert first.part == MessagePart(group="+447700900001>+447700900000#108", number=1, count=2)
    [whole] = parse_form({**concat, "concat-total": "1", "concat-part": "1"})
    assert whole.part is None
    [plain] = parse_form({**INBOUND, "concat": "false"})
    assert plain.part is None
    assert rejected({**concat, "concat-part": "3"}) == "concat-part 3 is more than concat-total 2"
    assert rejected({**concat, "concat-part": "0"}) == (
        "concat-part: expected a number from 1 to 255, got '0'"
    )
    assert rejected({**concat, "concat-part": "1", "concat-total": "256"}) == (
        "concat-total: expected a number from 1 to 255, got '256'"
    )
    assert rejected({**INBOUND, "concat": "true", "concat-part": "1", "concat-total": "2"}) == (
        "missing required field 'concat-ref'"
    )
    assert rejected({**INBOUND, "concat": "yes"}) == "concat: expected true or false, got 'yes'"
    assert rejected({**concat, "concat-part": "1", "concat-ref": "9" * 33}) == (
        "concat-ref: 33 characters, expected at most 32"
    )


def test_junk_is_rejected_with_a_reason() -> None:
    assert rejected({"foo": "bar"}).startswith("not a Vonage SMS API callback")
    assert rejected({**RECEIPT, "messageId": ""}) == "missing required field 'messageId'"
    assert rejected({**INBOUND, "msisdn": ""}) == "missing required field 'msisdn'"
    empty_get = InboundRequest("GET", b"", "")
    with pytest.raises(PayloadRejected, match="no parameters"):
        parse(empty_get, SMS)
    messages_body = InboundRequest("POST", messages_status_body(), JSON)
    with pytest.raises(PayloadRejected, match='api = "messages"'):
        parse(messages_body, SMS)


# --- Parsing: the Messages API -------------------------------------------------------------------


def parse_json(document: dict[str, Any]) -> list[Any]:
    return list(parse(InboundRequest("POST", json.dumps(document).encode(), JSON), MESSAGES))


# Vonage/vonage-java-sdk MessageStatusTest.testSerdesAllFields's document (its random uuid
# fixed here).
JAVA_SDK_STATUS = {
    "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    "to": "447700900000",
    "from": "447700900001",
    "timestamp": "2020-01-01T14:00:03.010Z",
    "status": "submitted",
    "channel": "sms",
    "error": {
        "type": "https://developer.nexmo.com/api-errors/messages-olympus#1000",
        "title": 1000,
        "detail": "Throttled - You have exceeded the submission capacity allowed on this account.",
        "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf",
    },
    "usage": {"currency": "EUR", "price": "0.0333"},
    "sms": {"count_total": "3"},
    "destination": {"network_code": "54321"},
}


def test_messages_api_status() -> None:
    [event] = parse_json(JAVA_SDK_STATUS)
    assert event == StatusReported(
        dedupe_key="receipt:aaaaaaaa-bbbb-cccc-dddd-0123456789ab:submitted",
        provider_message_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        channel=Channel.SMS,
        status=Status.SENT,
        provider_status="submitted",
        failure_reason=None,
        occurred_at=datetime(2020, 1, 1, 14, 0, 3, 10000, tzinfo=UTC),
        recipient="+447700900000",
        sender="+447700900001",
        metadata={
            "channel": "sms",
            "error": JAVA_SDK_STATUS["error"],
            "usage": {"currency": "EUR", "price": "0.0333"},
            "destination": {"network_code": "54321"},
            "sms": {"count_total": "3"},
        },
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("delivered", (Status.DELIVERED, None)),
        ("read", (Status.DELIVERED, None)),
        ("rejected", (Status.FAILED, FailureReason.BLOCKED)),
        ("undeliverable", (Status.FAILED, FailureReason.UNKNOWN)),
        ("something_new", (Status.UNKNOWN, None)),
    ],
)
def test_messages_api_statuses(status: str, expected: tuple[Status, FailureReason | None]) -> None:
    [event] = parse_json({**JAVA_SDK_STATUS, "status": status, "client_ref": "order-7"})
    assert (event.status, event.failure_reason, event.reference) == (*expected, "order-7")


def test_messages_api_inbound_sms() -> None:
    # Vonage/vonage-java-sdk InboundMessageTest.testUnknownProperty's document.
    document = {
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": "447700900000",
        "from": "447700900001",
        "timestamp": "2020-01-01T15:43:21Z",
        "channel": "sms",
        "message_type": "text",
        "client_ref": "3f8e4c1e-0c5d-4a9b-9c61-2f4a3b8e7d10",
        "text": "Hello, world!",
        "usage": {"currency": "EUR", "price": "0.0333"},
        "sms": {"num_messages": "2", "keyword": "HELLO"},
    }
    assert parse_json(document) == [
        MessageReceived(
            dedupe_key="inbound:aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            provider_message_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            channel=Channel.SMS,
            sender="+447700900001",
            recipient="+447700900000",
            body="Hello, world!",
            occurred_at=utc("2020-01-01T15:43:21"),
            metadata={
                "channel": "sms",
                "message_type": "text",
                "usage": {"currency": "EUR", "price": "0.0333"},
                "sms": {"num_messages": "2", "keyword": "HELLO"},
            },
        )
    ]


def test_messages_api_media_reply_and_messenger_ids() -> None:
    image = {"url": "https://example.com/image.jpg"}
    [whatsapp] = parse_json(
        {
            "message_uuid": "bbbbbbbb-bbbb-cccc-dddd-0123456789ab",
            "to": "447700900000",
            "from": "447700900001",
            "timestamp": "2020-01-01T15:43:21Z",
            "channel": "whatsapp",
            "message_type": "image",
            "image": image,
            "context": {"message_uuid": "cccccccc-bbbb-cccc-dddd-0123456789ab"},
        }
    )
    assert (whatsapp.body, whatsapp.metadata["image"]) == (None, image)
    assert whatsapp.in_reply_to == "cccccccc-bbbb-cccc-dddd-0123456789ab"
    [messenger] = parse_json(
        {
            "message_uuid": "dddddddd-bbbb-cccc-dddd-0123456789ab",
            "to": "123456789987",
            "from": "9876543210987654",
            "timestamp": "2020-01-01T15:43:21Z",
            "channel": "messenger",
            "message_type": "text",
            "text": "Hi",
        }
    )
    assert (messenger.sender, messenger.recipient) == ("9876543210987654", "123456789987")


def test_messages_api_junk_is_rejected_with_a_reason() -> None:
    with pytest.raises(PayloadRejected, match="not a Vonage Messages API webhook"):
        parse_json({"message_uuid": "x"})
    with pytest.raises(PayloadRejected, match="missing required field 'from'"):
        parse_json({"message_uuid": "x", "message_type": "text", "text": "hi"})
    with pytest.raises(PayloadRejected, match="empty body"):
        parse(InboundRequest("GET", b"", "", query={"status": "delivered"}), MESSAGES)
    with pytest.raises(PayloadRejected, match='set api = "sms"'):
        parse_json({"messageId": "0A0000001234567B", "status": "delivered"})
