"""VA Notify's ``x-enp-signature``: the vectors of VA Notify's own test and of vets-api (the VA's
consumer of those callbacks) first, then tampering, keys and the header."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from callbox.cli import main
from callbox.providers.base import ReceiverContext, SignatureRejected, SignedRequest
from callbox.providers.notify import PROVIDER, VA_NOTIFY_SIGNATURE, load_va_notify_key

RECEIVER = ReceiverContext(name="va-notify")
NOW = datetime(2025, 8, 12, 18, 21, tzinfo=UTC)  # VA Notify signs no time: any moment will do

# department-of-veterans-affairs/notification-api tests/app/callback/
# test_webhook_callback_strategy.py::test_generate_callback_signature: the fixture
# sample_callback_data_v3, the key 'test_generate_callback_signature', and the signature it
# asserts. VA Notify posts json.dumps(data), so the body is Python's default JSON spelling.
VA_NOTIFY_DATA: dict[str, Any] = {
    "notification_id": "342d2432-6a79-4e18-afef-8c254751969b",
    "reference": "some client reference",
    "to": "+16502532222",
    "status": "created",
    "created_at": "2024-10-01T00:00:00.000000Z",
    "updated_at": None,
    "sent_at": None,
    "notification_type": "sms",
    "provider": "pinpoint",
    "status_reason": None,
    "provider_payload": None,
}
VA_NOTIFY_KEY = "test_generate_callback_signature"
VA_NOTIFY_SIGNATURE_HEX = "18689cf9fb9c6a9dc1e0840245d48c666d97499d3894deb0e4cf3a5ba82f3d6e"

# department-of-veterans-affairs/vets-api spec/lib/va_notify/callback_signature_generator_spec.rb:
# Ruby's to_json (no spaces) of a v3 callback, the key 'test_api_key', the signature it expects.
VETS_API_BODY = (
    b'{"id":"123","reference":null,"to":"test@example.com","status":"delivered",'
    b'"created_at":"2025-08-12T18:20:31.917125Z","completed_at":"2025-08-12T18:20:35.890510Z",'
    b'"sent_at":"2025-08-12T18:20:32.325383Z","notification_type":"email","status_reason":null,'
    b'"provider":"ses","provider_payload":null}'
)
VETS_API_KEY = "test_api_key"
VETS_API_SIGNATURE_HEX = "aee3be8e2b10cf83668cbd2546a38d33eeff4d95da1df1e99011fb5e24f03910"


def callback(body: bytes, signature: str | None) -> SignedRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-enp-signature"] = signature
    return SignedRequest(
        method="POST",
        url="",
        headers=headers,
        query_string="",
        body=body,
        content_type="application/json",
    )


def verify(request: SignedRequest, *keys: str) -> None:
    loaded = [VA_NOTIFY_SIGNATURE.load_key(key) for key in keys]
    VA_NOTIFY_SIGNATURE.verify(request, loaded, RECEIVER, NOW)


def refusal(request: SignedRequest, *keys: str) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(request, *keys)
    return caught.value.reason


VECTORS = [
    pytest.param(
        json.dumps(VA_NOTIFY_DATA).encode(),
        VA_NOTIFY_KEY,
        VA_NOTIFY_SIGNATURE_HEX,
        id="va-notify-test_generate_callback_signature",
    ),
    pytest.param(
        VETS_API_BODY, VETS_API_KEY, VETS_API_SIGNATURE_HEX, id="vets-api-signature-generator"
    ),
]


@pytest.mark.parametrize(("body", "key", "signature"), VECTORS)
def test_vector_verifies(body: bytes, key: str, signature: str) -> None:
    verify(callback(body, signature), key)
    verify(callback(body, signature.upper()), key)  # hex, compared case-insensitively


@pytest.mark.parametrize(("body", "key", "signature"), VECTORS)
def test_vector_refused_with_another_key(body: bytes, key: str, signature: str) -> None:
    assert refusal(callback(body, signature), key + "x") == "signature does not match"


@pytest.mark.parametrize(("body", "key", "signature"), VECTORS)
def test_vector_refused_once_a_value_changes(body: bytes, key: str, signature: str) -> None:
    document = json.loads(body)
    for name, value in document.items():
        changed = dict(document, **{name: "delivered" if value != "delivered" else "sent"})
        assert refusal(callback(json.dumps(changed).encode(), signature), key) == (
            "signature does not match"
        ), name


@pytest.mark.parametrize(("body", "key", "signature"), VECTORS)
def test_vector_refused_with_a_field_added_or_removed_in_transit(
    body: bytes, key: str, signature: str
) -> None:
    document = json.loads(body)
    added = json.dumps({**document, "status_reason_code": "1"}).encode()
    assert refusal(callback(added, signature), key) == "signature does not match"
    removed = json.dumps({k: v for k, v in document.items() if k != "reference"}).encode()
    assert refusal(callback(removed, signature), key) == "signature does not match"


@pytest.mark.parametrize(("body", "key", "signature"), VECTORS)
def test_vector_refused_when_a_proxy_reorders_the_fields(
    body: bytes, key: str, signature: str
) -> None:
    reordered = json.dumps(dict(sorted(json.loads(body).items(), reverse=True))).encode()
    assert refusal(callback(reordered, signature), key) == "signature does not match"


@pytest.mark.parametrize(("body", "key", "signature"), VECTORS)
def test_vector_refused_when_null_becomes_an_empty_string(
    body: bytes, key: str, signature: str
) -> None:
    """VA Notify signs ``None`` for null: a proxy "cleaning" nulls changes what was signed."""
    document = {k: "" if v is None else v for k, v in json.loads(body).items()}
    assert refusal(callback(json.dumps(document).encode(), signature), key) == (
        "signature does not match"
    )


def test_spacing_is_not_signed() -> None:
    """VA Notify signs the fields, not the bytes: the same object re-spaced still verifies
    (the vets-api vector is compact JSON, VA Notify's own is spaced)."""
    spaced = json.dumps(json.loads(VETS_API_BODY), indent=2).encode()
    verify(callback(spaced, VETS_API_SIGNATURE_HEX), VETS_API_KEY)


def test_a_rotated_key_verifies_in_either_place() -> None:
    request = callback(VETS_API_BODY, VETS_API_SIGNATURE_HEX)
    verify(request, "an-older-api-key-secret", VETS_API_KEY)
    verify(request, VETS_API_KEY, "an-older-api-key-secret")
    assert refusal(request, "an-older-api-key-secret", "another") == "signature does not match"


def test_missing_or_empty_header_is_refused() -> None:
    assert refusal(callback(VETS_API_BODY, None), VETS_API_KEY) == (
        "missing x-enp-signature header"
    )
    assert refusal(callback(VETS_API_BODY, "  "), VETS_API_KEY) == (
        "missing x-enp-signature header"
    )


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000]
)
def test_a_body_that_is_no_json_object_is_refused(body: bytes) -> None:
    assert refusal(callback(body, VETS_API_SIGNATURE_HEX), VETS_API_KEY) == (
        "body is not a JSON object: VA Notify signs the fields of one"
    )


def test_a_lone_surrogate_is_refused_not_an_error() -> None:
    body = b'{"id": "\\ud800"}'
    assert refusal(callback(body, VETS_API_SIGNATURE_HEX), VETS_API_KEY) == (
        "body holds text VA Notify could not have signed"
    )


def test_signing_makes_what_verification_accepts_and_matches_the_vector() -> None:
    sign = VA_NOTIFY_SIGNATURE.sign
    assert sign is not None
    signed = sign(callback(VETS_API_BODY, None), VETS_API_KEY, RECEIVER, NOW)
    assert signed.headers["x-enp-signature"] == VETS_API_SIGNATURE_HEX
    verify(signed, VETS_API_KEY)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "the API key secret is empty"),
        ("two words", "without spaces"),
        (
            "my-key-name-4a6fd7a4-1c2d-4e3f-8a9b-0c1d2e3f4a5b-9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
            "this is a whole API key (name-service id-secret): give only its secret, the last"
            " 36 characters",
        ),
    ],
)
def test_load_key_refuses_what_is_no_secret(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        load_va_notify_key(text)


def test_the_secret_of_a_key_loads() -> None:
    secret = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
    assert load_va_notify_key(f" {secret}\n") == secret.encode()


def test_the_scheme_is_notify_s_and_signs_no_url() -> None:
    assert PROVIDER.signature is VA_NOTIFY_SIGNATURE
    assert not VA_NOTIFY_SIGNATURE.needs_public_url
    unsigned = callback(VETS_API_BODY, VETS_API_SIGNATURE_HEX)
    verify(replace(unsigned, url="https://anywhere.example/x?y=1"), VETS_API_KEY)


STATUSES_DOC = Path(__file__).resolve().parents[2] / "docs" / "statuses.md"


def test_the_documented_va_notify_receiver_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    section = STATUSES_DOC.read_text().split("## GOV.UK Notify", 1)[1].split("\n## ", 1)[0]
    [config] = section.split("```toml\n")[1:]
    path = tmp_path / "callbox.toml"
    path.write_text(config.split("```", 1)[0])
    monkeypatch.setenv("VA_NOTIFY_API_KEY_SECRET", "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
    assert main(["check-config", str(path)]) == 0
    assert "OK (1 receiver" in capsys.readouterr().out
