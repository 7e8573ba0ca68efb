"""Twilio: X-Twilio-Signature against twilio-python's own vectors, and parsing of status
callbacks, inbound messages, Advanced Opt-Out and Event Streams CloudEvents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
import pytest

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
from callbox.providers.twilio import (
    ERROR_CODE_REASONS,
    PROVIDER,
    TWILIO_STATUSES,
    TwilioOptions,
    load_auth_token,
    parse,
    url_variants,
    verify_signature,
)
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, ConfigError, Receiver
from tests.providers.contract import parse_sample

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RECEIVER = ReceiverContext(name="twilio")
FORM = "application/x-www-form-urlencoded"

# twilio/twilio-python tests/unit/test_request_validator.py @306691e793f4, as copied into
# /work/shared/payloads/twilio/signature_test_vectors__twilio-python.json (checked below).
SDK_TOKEN = b"12345"
SDK_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
SDK_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
SDK_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SDK_SIGNATURE_PORT_443 = "kvajT1Ptam85bY51eRf/AJRuM3w="
SDK_SIGNATURE_HTTP_PORT_1234 = "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="
SDK_SIGNATURE_HTTP_PORT_80 = "0ZXoZLH/DfblKGATFgpif+LLRf4="
SDK_DUPLICATE_PARAMS = [
    ("Sid", "CA123"),
    ("SidAccount", "AC123"),
    ("Digits", "5678"),
    ("Digits", "1234"),
    ("Digits", "1234"),
]
SDK_DUPLICATE_SIGNATURE = "IK+Dwps556ElfBT0I3Rgjkr1wJU="
SDK_JSON_BODY = b'{"property": "value", "boolean": true}'
SDK_JSON_URL = (
    SDK_URL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
)
SDK_JSON_SIGNATURE = "a9nBmqA0ju/hNViExpshrM61xv4="
SHARED_VECTORS = Path("/work/shared/payloads/twilio/signature_test_vectors__twilio-python.json")


def signed(
    url: str,
    body: bytes | list[tuple[str, str]] | dict[str, str],
    signature: str | None,
    *,
    content_type: str = FORM,
    method: str = "POST",
    **headers: str,
) -> SignedRequest:
    """The request as the receiver sees it, with ``url`` as public_url + raw query."""
    raw = body if isinstance(body, bytes) else urlencode(body).encode()
    all_headers = {name.replace("_", "-"): value for name, value in headers.items()}
    if signature is not None:
        all_headers["x-twilio-signature"] = signature
    return SignedRequest(
        method=method,
        url=url,
        headers=all_headers,
        query_string=url.partition("?")[2],
        body=raw,
        content_type=content_type,
    )


def refusal(
    request: SignedRequest, keys: list[bytes] | None = None, receiver: ReceiverContext = RECEIVER
) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify_signature(request, keys or [SDK_TOKEN], receiver, NOW)
    return caught.value.reason


def test_the_vectors_are_the_shared_sdk_vectors() -> None:
    """Guard against the literals above drifting from the shared copy (when it is at hand)."""
    if not SHARED_VECTORS.exists():
        pytest.skip("the shared payloads are not available here")
    vectors = json.loads(SHARED_VECTORS.read_text())
    assert vectors["auth_token"].encode() == SDK_TOKEN
    assert (vectors["url"], vectors["params"]) == (SDK_URL, SDK_PARAMS)
    assert vectors["expected_X-Twilio-Signature"] == SDK_SIGNATURE
    assert vectors["expected_with_explicit_port_443"] == SDK_SIGNATURE_PORT_443
    assert vectors["http_url_with_port_1234_expected"] == SDK_SIGNATURE_HTTP_PORT_1234
    assert vectors["http_url_port_80_expected"] == SDK_SIGNATURE_HTTP_PORT_80
    assert [tuple(pair) for pair in vectors["duplicate_params_multidict"]] == SDK_DUPLICATE_PARAMS
    assert vectors["duplicate_params_expected"] == SDK_DUPLICATE_SIGNATURE
    assert vectors["json_body"].encode() == SDK_JSON_BODY
    assert (vectors["json_url"], vectors["json_expected_signature"]) == (
        SDK_JSON_URL,
        SDK_JSON_SIGNATURE,
    )


# --- The SDK's vectors: valid ones verify ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "body", "signature"),
    [
        pytest.param(SDK_URL, SDK_PARAMS, SDK_SIGNATURE, id="form"),
        # twilio-python test_validation_adds_port_on_https: signed with :443, URL without.
        pytest.param(SDK_URL, SDK_PARAMS, SDK_SIGNATURE_PORT_443, id="signed-with-port-443"),
        # test_validation_removes_port_on_https: signed without the port, URL with :1234.
        pytest.param(
            SDK_URL.replace(".com", ".com:1234"), SDK_PARAMS, SDK_SIGNATURE, id="https-port-removed"
        ),
        # test_validation_removes_port_on_http: an http URL signed with its own :1234.
        pytest.param(
            SDK_URL.replace(".com", ".com:1234").replace("https", "http"),
            SDK_PARAMS,
            SDK_SIGNATURE_HTTP_PORT_1234,
            id="http-port-1234",
        ),
        # test_validation_adds_port_on_http: signed with :80, URL without.
        pytest.param(
            SDK_URL.replace("https", "http"),
            SDK_PARAMS,
            SDK_SIGNATURE_HTTP_PORT_80,
            id="signed-with-port-80",
        ),
        # test_compute_signature_duplicate_multi_dict: names sorted, values sorted, deduped.
        pytest.param(SDK_URL, SDK_DUPLICATE_PARAMS, SDK_DUPLICATE_SIGNATURE, id="repeated-names"),
    ],
)
def test_sdk_vectors_verify(url: str, body: Any, signature: str) -> None:
    verify_signature(signed(url, body, signature), [SDK_TOKEN], RECEIVER, NOW)


def test_sdk_json_vector_verifies_through_body_sha256() -> None:
    request = signed(
        SDK_JSON_URL, SDK_JSON_BODY, SDK_JSON_SIGNATURE, content_type="application/json"
    )
    verify_signature(request, [SDK_TOKEN], RECEIVER, NOW)


# --- The SDK's vectors, tampered: refused ---------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        pytest.param(
            signed(SDK_URL, {**SDK_PARAMS, "Digits": "1235"}, SDK_SIGNATURE),
            "signature does not match",
            id="param-changed",
        ),
        pytest.param(
            signed(SDK_URL, {**SDK_PARAMS, "MessageStatus": "delivered"}, SDK_SIGNATURE),
            "signature does not match",
            id="param-added-in-transit",
        ),
        pytest.param(
            signed(SDK_URL, {k: v for k, v in SDK_PARAMS.items() if k != "To"}, SDK_SIGNATURE),
            "signature does not match",
            id="param-removed",
        ),
        pytest.param(
            signed(SDK_URL.replace("foo=1", "foo=2"), SDK_PARAMS, SDK_SIGNATURE),
            "signature does not match",
            id="query-changed",
        ),
        pytest.param(
            signed(SDK_URL.replace("mycompany", "othercompany"), SDK_PARAMS, SDK_SIGNATURE),
            "signature does not match",
            id="other-host",
        ),
        pytest.param(
            # A proxy "normalising" %2B to + changes +14158675309 into " 14158675309".
            signed(
                SDK_URL,
                urlencode(SDK_PARAMS).replace("%2B", "+").encode(),
                SDK_SIGNATURE,
            ),
            "signature does not match",
            id="form-re-encoded-by-a-proxy",
        ),
        pytest.param(
            signed(
                SDK_URL,
                urlencode(SDK_DUPLICATE_PARAMS[:-2]).encode(),
                SDK_DUPLICATE_SIGNATURE,
            ),
            "signature does not match",
            id="repeated-value-dropped",
        ),
        pytest.param(
            signed(SDK_URL, SDK_PARAMS, SDK_SIGNATURE.replace("R", "r", 1)),
            "signature does not match",
            id="signature-changed",
        ),
        pytest.param(
            signed(
                SDK_JSON_URL,
                SDK_JSON_BODY.replace(b"value", b"VALUE"),
                SDK_JSON_SIGNATURE,
                content_type="application/json",
            ),
            "body does not match bodySHA256",
            id="json-body-changed",
        ),
        pytest.param(
            # A proxy re-serialising the JSON (no spaces): the same document, other bytes.
            signed(
                SDK_JSON_URL,
                json.dumps(json.loads(SDK_JSON_BODY), separators=(",", ":")).encode(),
                SDK_JSON_SIGNATURE,
                content_type="application/json",
            ),
            "body does not match bodySHA256",
            id="json-re-encoded-by-a-proxy",
        ),
        pytest.param(
            # The forger hashes the new body into the URL: the URL is signed, so it fails.
            signed(
                SDK_URL + "&bodySHA256=" + hashlib.sha256(b'{"property": "x"}').hexdigest(),
                b'{"property": "x"}',
                SDK_JSON_SIGNATURE,
                content_type="application/json",
            ),
            "signature does not match",
            id="json-body-and-hash-replaced",
        ),
        pytest.param(
            signed(SDK_URL, SDK_JSON_BODY, SDK_SIGNATURE, content_type="application/json"),
            "the body is not signed: Twilio signs form parameters, or a JSON body through "
            "bodySHA256 in the URL",
            id="json-body-without-body-sha256",
        ),
        pytest.param(
            signed(SDK_URL, "Body=caf\u00e9".encode("latin-1"), SDK_SIGNATURE),
            "the form body is not UTF-8",
            id="form-re-encoded-as-latin-1",
        ),
        pytest.param(
            signed(SDK_URL, SDK_PARAMS, None),
            "missing X-Twilio-Signature header",
            id="no-signature-header",
        ),
        pytest.param(
            signed(SDK_URL, SDK_PARAMS, "   "),
            "missing X-Twilio-Signature header",
            id="empty-signature-header",
        ),
    ],
)
def test_tampered_sdk_vectors_are_refused(request_: SignedRequest, reason: str) -> None:
    assert refusal(request_) == reason


def test_wrong_key_is_refused() -> None:
    request = signed(SDK_URL, SDK_PARAMS, SDK_SIGNATURE)
    assert refusal(request, [b"54321"]) == "signature does not match"


def test_rotated_key_the_second_key_verifies() -> None:
    request = signed(SDK_URL, SDK_PARAMS, SDK_SIGNATURE)
    verify_signature(request, [b"the-new-token", SDK_TOKEN], RECEIVER, NOW)


def test_a_signature_is_not_replayed_to_another_url_path() -> None:
    request = signed(SDK_URL.replace("myapp.php", "other.php"), SDK_PARAMS, SDK_SIGNATURE)
    assert refusal(request) == "signature does not match"


def test_without_public_url_nothing_verifies() -> None:
    request = signed("", SDK_PARAMS, SDK_SIGNATURE)
    assert "no public_url" in refusal(request)


# --- Webhooks Rules: a SharedKey with HMAC-SHA256 --------------------------------------------

SHARED_KEY = b"shared-key-secret-0123456789abcdef"
SHA256_SETTINGS = "key=KS0123456789abcdef0123456789abcdef,algorithm=HMAC_SHA256"
SHA256_RECEIVER = ReceiverContext(
    name="twilio", options=TwilioOptions(signature_algorithms=("HMAC_SHA256",))
)


def sha256_signature(key: bytes, url: str, params: dict[str, str]) -> str:
    """The documented string ("only the hash changes"), computed here with hmac alone."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(key, data.encode(), hashlib.sha256).digest()).decode()


def sha256_request(key: bytes = SHARED_KEY, settings: str = SHA256_SETTINGS) -> SignedRequest:
    return signed(
        SDK_URL,
        SDK_PARAMS,
        sha256_signature(key, SDK_URL, SDK_PARAMS),
        x_twilio_webhooks_signature_settings=settings,
    )


def test_sha256_signature_verifies_when_the_receiver_accepts_it() -> None:
    verify_signature(sha256_request(), [SHARED_KEY], SHA256_RECEIVER, NOW)


def test_sha256_signature_with_another_key_is_refused() -> None:
    request = sha256_request(b"another-shared-key")
    assert refusal(request, [SHARED_KEY], SHA256_RECEIVER) == "signature does not match"


def test_sha256_is_refused_by_a_receiver_accepting_only_sha1() -> None:
    assert refusal(sha256_request(), [SHARED_KEY]) == (
        "signature algorithm HMAC_SHA256 is not accepted by this receiver "
        "(signature_algorithms: HMAC_SHA1)"
    )


def test_sha1_is_refused_by_a_receiver_accepting_only_sha256() -> None:
    request = signed(SDK_URL, SDK_PARAMS, SDK_SIGNATURE)
    assert refusal(request, [SDK_TOKEN], SHA256_RECEIVER) == (
        "signature algorithm HMAC_SHA1 is not accepted by this receiver "
        "(signature_algorithms: HMAC_SHA256)"
    )


def test_an_unknown_algorithm_is_refused() -> None:
    request = sha256_request(settings="key=KS1,algorithm=HMAC_MD5")
    assert refusal(request, [SHARED_KEY], SHA256_RECEIVER) == (
        "unsupported signature algorithm 'HMAC_MD5' in X-Twilio-Webhooks-Signature-Settings"
    )


def test_a_sha1_signature_labelled_sha256_is_refused() -> None:
    request = signed(
        SDK_URL, SDK_PARAMS, SDK_SIGNATURE, x_twilio_webhooks_signature_settings=SHA256_SETTINGS
    )
    assert refusal(request, [SDK_TOKEN], SHA256_RECEIVER) == "signature does not match"


def test_both_algorithms_during_a_migration() -> None:
    both = ReceiverContext(
        name="twilio", options=TwilioOptions(signature_algorithms=("HMAC_SHA1", "HMAC_SHA256"))
    )
    verify_signature(signed(SDK_URL, SDK_PARAMS, SDK_SIGNATURE), [SDK_TOKEN], both, NOW)
    verify_signature(sha256_request(), [SDK_TOKEN, SHARED_KEY], both, NOW)


# --- Keys, options and URLs ------------------------------------------------------------------


def test_load_key_takes_the_token_as_bytes() -> None:
    assert (
        load_auth_token("0123456789abcdef0123456789abcdef") == b"0123456789abcdef0123456789abcdef"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("0123456789abcdef0123456789abcdef\n", "spaces or a line break"),
        (" 0123456789abcdef", "spaces or a line break"),
        ("t\u00f6ken", "printable ASCII"),
        ("tok\x00en", "printable ASCII"),
        ("AC0123456789abcdef0123456789abcdef", "Account or API key SID"),
        ("SK0123456789abcdef0123456789abcdef", "Account or API key SID"),
    ],
)
def test_load_key_refuses_what_is_not_a_token(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        load_auth_token(text)
    assert text.strip() not in str(caught.value)  # a secret is never quoted


def test_a_receiver_with_signature_keys_needs_public_url() -> None:
    receiver = Receiver(name="tw", provider="twilio", auth=Auth(signature=["token-0123456789"]))
    with pytest.raises(ConfigError, match="set this receiver's public_url"):
        prepare_receiver(receiver, 0)


def test_a_receiver_reports_a_bad_key_without_quoting_it() -> None:
    receiver = Receiver(
        name="tw",
        provider="twilio",
        auth=Auth(signature=["AC0123456789abcdef0123456789abcdef"]),
        public_url="https://callbox.example.com/hooks/tw",
    )
    with pytest.raises(ConfigError) as caught:
        prepare_receiver(receiver, 0)
    message = str(caught.value)
    assert message.startswith("receivers[0].auth.signature[0]: not a Twilio Auth Token")
    assert "0123456789abcdef" not in message


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"signature_algorithms": []}, "give HMAC_SHA1, HMAC_SHA256 or both"),
        ({"signature_algorithms": ["HMAC_MD5"]}, "HMAC_MD5"),
        ({"signature_algorithm": ["HMAC_SHA1"]}, "signature_algorithm"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: str) -> None:
    with pytest.raises((ValueError, msgspec.ValidationError), match=error):
        Receiver(name="tw", provider="twilio", options=options)


def test_options_are_read_from_the_receiver() -> None:
    receiver = Receiver(
        name="tw", provider="twilio", options={"signature_algorithms": ["HMAC_SHA256"]}
    )
    context = prepare_receiver(receiver, 0).context
    assert context.options == TwilioOptions(signature_algorithms=("HMAC_SHA256",))


@pytest.mark.parametrize(
    ("url", "variants"),
    [
        ("https://h.example/p?a=1", ["https://h.example/p?a=1", "https://h.example:443/p?a=1"]),
        ("http://h.example:8080/p", ["http://h.example/p", "http://h.example:8080/p"]),
        ("https://h.example?a=1", ["https://h.example?a=1", "https://h.example:443?a=1"]),
        (
            "https://[2001:db8::1]:8443/p",
            ["https://[2001:db8::1]/p", "https://[2001:db8::1]:8443/p"],
        ),
        ("https://u:p@h.example/p", ["https://u:p@h.example/p", "https://u:p@h.example:443/p"]),
    ],
)
def test_url_variants(url: str, variants: list[str]) -> None:
    assert url_variants(url) == variants


# --- Parsing: the samples --------------------------------------------------------------------


def test_status_callback_sample() -> None:
    # Twilio docs, "Track the Message Status of Outbound Messages".
    assert parse_sample(PROVIDER, PROVIDER.samples[0]) == [
        StatusReported(
            dedupe_key="status:SM1342fe1b2c904d1ab04f0fc7a58abca9:sent",
            provider_message_id="SM1342fe1b2c904d1ab04f0fc7a58abca9",
            channel=Channel.SMS,
            status=Status.SENT,
            provider_status="sent",
            failure_reason=None,
            occurred_at=None,
            recipient=None,
            sender="+15017250604",
            metadata={"AccountSid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
        )
    ]


def test_inbound_sms_sample() -> None:
    assert parse_sample(PROVIDER, PROVIDER.samples[1]) == [
        MessageReceived(
            dedupe_key="inbound:SMb711289e438f577f230f5837e9c74a08",
            provider_message_id="SMb711289e438f577f230f5837e9c74a08",
            channel=Channel.SMS,
            sender="+31612345678",
            recipient="+3197014204768",
            body="St",
            occurred_at=None,
            provider_status="received",
            metadata={
                "ToCountry": "NL",
                "NumMedia": "0",
                "FromCountry": "NL",
                "MessagingServiceSid": "MG790b6bd09f119b54ffb7f03b8841b1c9",
                "NumSegments": "1",
                "AccountSid": "ACf54dd7a47a8011d65b54d472a7190549",
                "ApiVersion": "2010-04-01",
            },
        )
    ]


def test_event_streams_inbound_sample() -> None:
    [event] = parse_sample(PROVIDER, PROVIDER.samples[2])
    assert isinstance(event, MessageReceived)
    assert (event.dedupe_key, event.provider_message_id) == (
        "inbound:SM0000000000000000000000000000001",
        "SM0000000000000000000000000000001",
    )
    assert (event.sender, event.recipient, event.body) == ("+11234567890", "+12345678901", "Ahoy!")
    assert event.occurred_at == datetime(2025, 1, 1, tzinfo=UTC)
    assert event.metadata["messagingServiceSid"] == "MG0000000000000000000000000000001"
    assert event.metadata["fromCity"] == "NASHUA"


# --- Parsing: status callbacks ---------------------------------------------------------------


def form(**fields: str) -> InboundRequest:
    return InboundRequest(method="POST", body=urlencode(fields).encode(), content_type=FORM)


def status_callback(status: str, **fields: str) -> InboundRequest:
    return form(
        AccountSid="AC0123",
        MessageSid="SM0123",
        MessageStatus=status,
        SmsStatus=status,
        From="+15017250604",
        To="+15558675310",
        **fields,
    )


def test_delivered_with_raw_dlr_done_date_in_the_receivers_timezone() -> None:
    london = ReceiverContext(name="twilio", timezone=ZoneInfo("Europe/London"))
    [event] = parse(status_callback("delivered", RawDlrDoneDate="2407011215"), london)
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason) == (Status.DELIVERED, None)
    # 12:15 in London on 1 July 2024 is BST (UTC+1).
    assert event.occurred_at == datetime(2024, 7, 1, 11, 15, tzinfo=UTC)
    assert (event.sender, event.recipient) == ("+15017250604", "+15558675310")
    assert event.metadata == {"AccountSid": "AC0123", "RawDlrDoneDate": "2407011215"}


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        ("undelivered", "30003", FailureReason.TEMPORARY),
        ("undelivered", "30005", FailureReason.INVALID_RECIPIENT),
        ("undelivered", "30007", FailureReason.BLOCKED),
        ("failed", "30001", FailureReason.TECHNICAL),
        ("undelivered", "30008", FailureReason.UNKNOWN),  # "unknown error": not in the table
        ("failed", "", FailureReason.UNKNOWN),
    ],
)
def test_error_code_sharpens_the_failure_reason(
    status: str, code: str, reason: FailureReason
) -> None:
    events = parse(status_callback(status, ErrorCode=code), RECEIVER)
    assert [(e.status, e.failure_reason) for e in events if isinstance(e, StatusReported)] == [
        (Status.FAILED, reason)
    ]
    assert not [e for e in events if isinstance(e, OptOutReported)]


def test_error_code_does_not_change_a_delivered_status() -> None:
    [event] = parse(status_callback("delivered", ErrorCode="30003"), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason) == (Status.DELIVERED, None)


def test_sending_to_an_unsubscribed_recipient_is_an_opt_out() -> None:
    receipt, opt_out = parse(status_callback("failed", ErrorCode="21610"), RECEIVER)
    assert isinstance(receipt, StatusReported)
    assert (receipt.status, receipt.failure_reason) == (Status.FAILED, FailureReason.BLOCKED)
    assert opt_out == OptOutReported(
        dedupe_key="optout:SM0123",
        address="+15558675310",
        channel=Channel.SMS,
        occurred_at=None,
        source="status",
        provider_message_id="SM0123",
        text="ErrorCode 21610",
    )


@pytest.mark.parametrize(("code", "reason"), sorted(ERROR_CODE_REASONS.items()))
def test_error_codes(code: str, reason: FailureReason) -> None:
    [receipt, *_] = parse(status_callback("undelivered", ErrorCode=code), RECEIVER)
    assert isinstance(receipt, StatusReported)
    assert receipt.failure_reason is reason


@pytest.mark.parametrize(("word", "expected"), sorted(TWILIO_STATUSES.items()))
def test_status_words(word: str, expected: tuple[Status, FailureReason | None]) -> None:
    [event] = parse(status_callback(word), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason) == expected
    assert event.dedupe_key == f"status:SM0123:{word}"


def test_unknown_status_word_is_kept_as_unknown() -> None:
    [event] = parse(status_callback("teleported"), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.provider_status) == (Status.UNKNOWN, "teleported")


def test_older_accounts_send_only_sms_status_and_sms_sid() -> None:
    [event] = parse(form(SmsSid="SM9", SmsStatus="delivered", To="+15558675310"), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.provider_message_id, event.status) == ("SM9", Status.DELIVERED)


def test_whatsapp_prefix_is_removed_and_kept_in_metadata() -> None:
    request = form(
        MessageSid="SM1",
        MessageStatus="read",
        From="whatsapp:+14155238886",
        To="whatsapp:+15558675310",
    )
    [event] = parse(request, RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.sender, event.recipient, event.status) == (
        "+14155238886",
        "+15558675310",
        Status.DELIVERED,
    )
    assert event.metadata == {"channel_prefix": "whatsapp"}


# --- Parsing: inbound messages and Advanced Opt-Out ------------------------------------------


def inbound(body: str, **fields: str) -> InboundRequest:
    values = {
        "MessageSid": "SMin1",
        "SmsStatus": "received",
        "From": "+15558675310",
        "To": "+15017250604",
        "Body": body,
        "NumMedia": "0",
    }
    return form(**(values | fields))


def test_inbound_mms_media_become_a_list() -> None:
    request = inbound(
        "Look",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/Media/ME0",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/Media/ME1",
        MediaContentType1="image/png",
    )
    [event] = parse(request, RECEIVER)
    assert isinstance(event, MessageReceived)
    assert event.metadata == {
        "NumMedia": "2",
        "media": [
            {"url": "https://api.twilio.com/Media/ME0", "content_type": "image/jpeg"},
            {"url": "https://api.twilio.com/Media/ME1", "content_type": "image/png"},
        ],
    }


def test_inbound_by_get_reads_the_query() -> None:
    request = InboundRequest(
        method="GET",
        body=b"",
        content_type="",
        query={"MessageSid": "SMg", "From": "+15558675310", "To": "+15017250604", "Body": "Hi"},
    )
    [event] = parse(request, RECEIVER)
    assert isinstance(event, MessageReceived)
    assert (event.provider_message_id, event.body) == ("SMg", "Hi")


def test_a_flagged_standard_keyword_is_reported_too() -> None:
    # The store's keyword rule records STOP as well; the ledger keeps one row for the request
    # (tests/store/test_opt_out_rules.py::test_a_provider_flag_and_the_keyword_rule_...).
    events = parse(inbound("Stop.", OptOutType="STOP"), RECEIVER)
    assert [type(event) for event in events] == [MessageReceived, OptOutReported]
    assert events[0].metadata["OptOutType"] == "STOP"  # type: ignore[union-attr]


def test_advanced_opt_out_keyword_the_store_does_not_know_is_an_opt_out() -> None:
    message, opt_out = parse(inbound("ARRET", OptOutType="STOP"), RECEIVER)
    assert isinstance(message, MessageReceived)
    assert opt_out == OptOutReported(
        dedupe_key="optout:SMin1",
        address="+15558675310",
        channel=Channel.SMS,
        occurred_at=None,
        source="provider",
        opted_in=False,
        text="ARRET",
    )


def test_advanced_opt_in_keyword_is_an_opt_in() -> None:
    _, opt_in = parse(inbound("YES", OptOutType="START"), RECEIVER)
    assert isinstance(opt_in, OptOutReported)
    assert (opt_in.opted_in, opt_in.source, opt_in.text) == (True, "provider", "YES")


def test_a_flagged_start_keyword_is_reported_too() -> None:
    events = parse(inbound("start", OptOutType="START"), RECEIVER)
    assert [type(e) for e in events] == [MessageReceived, OptOutReported]


def test_help_changes_nothing_in_the_ledger() -> None:
    [event] = parse(inbound("INFO", OptOutType="HELP"), RECEIVER)
    assert isinstance(event, MessageReceived)
    assert event.metadata["OptOutType"] == "HELP"


# --- Parsing: Event Streams ------------------------------------------------------------------


EVENT_INBOUND = "com.twilio.messaging.inbound-message.received"


def cloud_event(kind: str, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "type": kind,
        "source": "AB01",
        "id": "NO01",
        "dataschema": "https://events-schemas.twilio.com/Messaging.MessageStatus/8",
        "data": data,
    }


def post_json(document: Any) -> InboundRequest:
    return InboundRequest(
        method="POST", body=json.dumps(document).encode(), content_type="application/json"
    )


def test_event_streams_batch_of_status_events() -> None:
    # Field names from Twilio docs, Event Streams "Outbound Message" (Messaging.MessageStatus).
    batch = [
        cloud_event(
            "com.twilio.messaging.message.delivered",
            messageSid="SM5",
            timestamp="2025-01-01T00:00:05.000Z",
            accountSid="AC1",
            **{"from": "+15017250604", "to": "+15558675310"},
            messageStatus="DELIVERED",
        ),
        cloud_event(
            "com.twilio.messaging.message.undelivered",
            messageSid="SM6",
            timestamp="2025-01-01T00:00:06.000Z",
            accountSid="AC1",
            **{"from": "+15017250604", "to": "+15558675311"},
            messageStatus="UNDELIVERED",
            errorCode=30003,
        ),
    ]
    delivered, undelivered = parse(post_json(batch), RECEIVER)
    assert isinstance(delivered, StatusReported) and isinstance(undelivered, StatusReported)
    assert (delivered.dedupe_key, delivered.status, delivered.provider_status) == (
        "status:SM5:delivered",
        Status.DELIVERED,
        "DELIVERED",
    )
    assert delivered.occurred_at == datetime(2025, 1, 1, 0, 0, 5, tzinfo=UTC)
    assert (undelivered.status, undelivered.failure_reason, undelivered.recipient) == (
        Status.FAILED,
        FailureReason.TEMPORARY,
        "+15558675311",
    )
    assert undelivered.metadata["ErrorCode"] == 30003


def test_event_streams_status_word_from_the_type_when_data_has_none() -> None:
    event = cloud_event("com.twilio.messaging.message.sent", messageSid="SM7", to="+15558675310")
    [status] = parse(post_json(event), RECEIVER)
    assert isinstance(status, StatusReported)
    assert (status.status, status.provider_status) == (Status.SENT, "sent")


def test_json_with_webhook_field_names_is_read_like_a_form() -> None:
    [event] = parse(post_json({"MessageSid": "SMj", "MessageStatus": "queued"}), RECEIVER)
    assert isinstance(event, StatusReported)
    assert event.status is Status.PENDING


# --- Rejections ------------------------------------------------------------------------------


def reject_reason(request: InboundRequest) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(request, RECEIVER)
    return caught.value.reason


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (
            InboundRequest(method="POST", body=b"", content_type=FORM),
            "empty request: expected Twilio's form parameters",
        ),
        (
            form(AccountSid="AC1"),
            "not a Twilio message callback: expected MessageStatus (a status callback) or "
            "Body (an inbound message)",
        ),
        (form(MessageStatus="sent"), "missing required field 'MessageSid'"),
        (form(MessageSid="SM1", Body="hi"), "missing required field 'From'"),
        (
            status_callback("delivered", RawDlrDoneDate="2024-07-01"),
            "RawDlrDoneDate: expected YYMMDDhhmm, got '2024-07-01'",
        ),
        (
            status_callback("delivered", RawDlrDoneDate="2413011215"),
            "RawDlrDoneDate: not a date: '2413011215'",
        ),
        (post_json([]), "empty JSON array: expected Event Streams CloudEvents"),
        (post_json("SM1"), "expected a JSON object or array, got a JSON string"),
        (
            post_json([cloud_event("com.twilio.voice.call.created", callSid="CA1")]),
            "CloudEvent 0: unsupported Event Streams type 'com.twilio.voice.call.created': "
            "expected com.twilio.messaging.inbound-message.received or "
            "com.twilio.messaging.message.*",
        ),
        (
            post_json({**cloud_event(EVENT_INBOUND), "data": []}),
            "CloudEvent 'data' must be an object",
        ),
    ],
)
def test_rejection_reasons(request_: InboundRequest, reason: str) -> None:
    assert reject_reason(request_) == reason
