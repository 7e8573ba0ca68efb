"""Plivo: signature V3 against plivo-go's own vectors, and parsing of status callbacks and
inbound messages (form POST or GET query)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

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
from callbox.providers.plivo import (
    ERROR_CODE_REASONS,
    PLIVO_STATUSES,
    PROVIDER,
    load_auth_token,
    parse,
    signed_base,
    verify_signature,
)
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, ConfigError, Receiver
from tests.providers.contract import parse_sample

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
RECEIVER = ReceiverContext(name="plivo")
FORM = "application/x-www-form-urlencoded"

# plivo/plivo-go utils_test.go @273a8369 (TestValidateSignatureV3Pass1..4): one auth token,
# one nonce, one set of callback parameters, signed by POST and by GET, with and without a
# query in the callback URL. (The plivo-python vectors in /work/shared/payloads/plivo are
# for signature V2 only; its V3 algorithm description is checked below.)
SDK_TOKEN = b"Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4"
SDK_NONCE = "31627761595286130198"
SDK_URL = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml"
SDK_URL_WITH_QUERY = SDK_URL + "/?a=b&c=d"
SDK_PARAMS = {
    "Direction": "outbound",
    "From": "19792014278",
    "ALegUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallStatus": "in-progress",
    "BillRate": "0.002",
    "ParentAuthID": "MANWVLYTK4ZWU1YTY4QA",
    "To": "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
    "ALegRequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "CallUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "RequestUUID": "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36",
    "SIP-H-To": "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
    "SessionStart": "2020-04-08 11:34:33.238707",
    "Event": "StartApp",
}
SDK_POST_WITH_QUERY = "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="
SDK_GET_WITH_QUERY = "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ="
SDK_POST = "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
SDK_GET = "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc="
SHARED_VECTORS = Path("/work/shared/payloads/plivo/signature_vectors__plivo-python.json")


def post(
    url: str,
    params: dict[str, str] | bytes,
    signature: str | None,
    nonce: str | None = SDK_NONCE,
    *,
    content_type: str = FORM,
    **headers: str,
) -> SignedRequest:
    """A POST as the receiver sees it: ``url`` is public_url + raw query."""
    body = params if isinstance(params, bytes) else urlencode(params).encode()
    return SignedRequest(
        method="POST",
        url=url,
        headers=_headers(signature, nonce, headers),
        query_string=url.partition("?")[2],
        body=body,
        content_type=content_type,
    )


def get(url: str, params: dict[str, str], signature: str | None, **headers: str) -> SignedRequest:
    """A GET: the callback's parameters ride in the query, after the URL's own."""
    query = url.partition("?")[2]
    query = "&".join(part for part in (query, urlencode(params)) if part)
    return SignedRequest(
        method="GET",
        url=url.partition("?")[0] + "?" + query,
        headers=_headers(signature, SDK_NONCE, headers),
        query_string=query,
        body=b"",
        content_type="",
    )


def _headers(signature: str | None, nonce: str | None, extra: dict[str, str]) -> dict[str, str]:
    headers = {name.replace("_", "-"): value for name, value in extra.items()}
    if signature is not None:
        headers["x-plivo-signature-v3"] = signature
    if nonce is not None:
        headers["x-plivo-signature-v3-nonce"] = nonce
    return headers


def refusal(request: SignedRequest, keys: list[bytes] | None = None) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify_signature(request, keys or [SDK_TOKEN], RECEIVER, NOW)
    return caught.value.reason


def test_the_shared_description_is_what_is_implemented() -> None:
    """The shared file has plivo-python's V3 algorithm in words (and only V2 vectors)."""
    if not SHARED_VECTORS.exists():
        pytest.skip("the shared payloads are not available here")
    v3 = json.loads(SHARED_VECTORS.read_text())["v3"]
    assert v3["headers"] == ["X-Plivo-Signature-V3", "X-Plivo-Signature-V3-Nonce"]
    assert "HMAC-SHA256(auth_token, base + '.' + nonce)" in v3["algorithm"]
    assert "several comma-separated signatures" in v3["algorithm"]


# --- The SDK's vectors: valid ones verify ---------------------------------------------------

SDK_REQUESTS = {
    "post-with-query": post(SDK_URL_WITH_QUERY, SDK_PARAMS, SDK_POST_WITH_QUERY),
    "get-with-query": get(SDK_URL_WITH_QUERY, SDK_PARAMS, SDK_GET_WITH_QUERY),
    "post": post(SDK_URL, SDK_PARAMS, SDK_POST),
    "get": get(SDK_URL, SDK_PARAMS, SDK_GET),
}


@pytest.mark.parametrize("request_", SDK_REQUESTS.values(), ids=SDK_REQUESTS.keys())
def test_sdk_vectors_verify(request_: SignedRequest) -> None:
    verify_signature(request_, [SDK_TOKEN], RECEIVER, NOW)


def test_signed_base_of_a_post_with_a_query() -> None:
    # The query sorted, ".", then the POST parameters sorted, name and value run together.
    base = signed_base(post(SDK_URL_WITH_QUERY, {"b": "2", "a": "1"}, None))
    assert base == SDK_URL + "/?a=b&c=d.a1b2"


def test_signed_base_of_a_get() -> None:
    base = signed_base(get(SDK_URL_WITH_QUERY, {"b": "2", "a": "1"}, None))
    assert base == SDK_URL + "/?a=1&a=b&b=2&c=d"


# --- The SDK's vectors, tampered: refused ---------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        pytest.param(
            post(SDK_URL, {**SDK_PARAMS, "CallStatus": "completed"}, SDK_POST),
            "signature does not match",
            id="param-changed",
        ),
        pytest.param(
            post(SDK_URL, {**SDK_PARAMS, "Status": "delivered"}, SDK_POST),
            "signature does not match",
            id="param-added-in-transit",
        ),
        pytest.param(
            get(SDK_URL, {**SDK_PARAMS, "Status": "delivered"}, SDK_GET),
            "signature does not match",
            id="query-param-added-in-transit",
        ),
        pytest.param(
            post(SDK_URL_WITH_QUERY.replace("c=d", "c=e"), SDK_PARAMS, SDK_POST_WITH_QUERY),
            "signature does not match",
            id="url-query-changed",
        ),
        pytest.param(
            post(SDK_URL.replace("plivobin", "plivobim"), SDK_PARAMS, SDK_POST),
            "signature does not match",
            id="other-host",
        ),
        pytest.param(
            post(SDK_URL, SDK_PARAMS, SDK_POST, nonce="31627761595286130199"),
            "signature does not match",
            id="nonce-changed",
        ),
        pytest.param(
            # A proxy re-encoding "+" (a space in a form) as "%2B" (a plus sign): the
            # SessionStart "2020-04-08 11:34:33.238707" becomes "2020-04-08+11:34:33.238707".
            post(SDK_URL, urlencode(SDK_PARAMS).replace("+", "%2B").encode(), SDK_POST),
            "signature does not match",
            id="form-re-encoded-by-a-proxy",
        ),
        pytest.param(
            post(SDK_URL, {**SDK_PARAMS, "From": "19792014278\u00e9"}, SDK_POST),
            "signature does not match",
            id="non-ascii-added",
        ),
        pytest.param(
            post(SDK_URL, "From=caf\u00e9".encode("latin-1"), SDK_POST),
            "the form body is not UTF-8",
            id="form-re-encoded-as-latin-1",
        ),
        pytest.param(
            post(
                SDK_URL, json.dumps(SDK_PARAMS).encode(), SDK_POST, content_type="application/json"
            ),
            "the body is not signed: Plivo signs form parameters",
            id="json-body",
        ),
        pytest.param(
            # The POST signature replayed on a GET of the same parameters.
            get(SDK_URL, SDK_PARAMS, SDK_POST),
            "signature does not match",
            id="post-signature-on-a-get",
        ),
        pytest.param(
            post(SDK_URL, SDK_PARAMS, None),
            "missing X-Plivo-Signature-V3 header",
            id="no-signature-header",
        ),
        pytest.param(
            post(SDK_URL, SDK_PARAMS, SDK_POST, nonce=None),
            "missing X-Plivo-Signature-V3-Nonce header",
            id="no-nonce-header",
        ),
        pytest.param(
            post(SDK_URL, SDK_PARAMS, ",".join(["bogus"] * 9)),
            "more than 8 signatures in the headers",
            id="too-many-signatures",
        ),
    ],
)
def test_tampered_sdk_vectors_are_refused(request_: SignedRequest, reason: str) -> None:
    assert refusal(request_) == reason


def test_wrong_key_is_refused() -> None:
    assert refusal(SDK_REQUESTS["post"], [b"Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc5"]) == (
        "signature does not match"
    )


def test_rotated_key_the_second_key_verifies() -> None:
    verify_signature(SDK_REQUESTS["post"], [b"the-new-auth-token", SDK_TOKEN], RECEIVER, NOW)


def test_several_signatures_in_the_header_any_one_verifies() -> None:
    # Several active Auth Tokens: Plivo sends one signature per token, comma-separated.
    for header in (f"bogus,{SDK_POST}", f"{SDK_POST}, bogus", f"bogus, {SDK_POST} ,other"):
        verify_signature(post(SDK_URL, SDK_PARAMS, header), [SDK_TOKEN], RECEIVER, NOW)
    assert refusal(post(SDK_URL, SDK_PARAMS, "bogus,other")) == "signature does not match"


def test_the_main_account_signature_verifies() -> None:
    request = post(SDK_URL, SDK_PARAMS, "bogus", x_plivo_signature_ma_v3=SDK_POST)
    verify_signature(request, [SDK_TOKEN], RECEIVER, NOW)


def test_without_public_url_nothing_verifies() -> None:
    assert "no public_url" in refusal(post("", SDK_PARAMS, SDK_POST))


def test_an_independent_computation_agrees() -> None:
    """A status callback signed here with hmac alone, from the documented string."""
    url = "https://callbox.example.com/hooks/plivo"
    params = {"MessageUUID": "u-1", "Status": "delivered", "To": "447700900123"}
    data = url + "?" + "".join(k + params[k] for k in sorted(params)) + ".1234"
    signature = base64.b64encode(hmac.new(b"tok", data.encode(), hashlib.sha256).digest())
    request = post(url, params, signature.decode(), nonce="1234")
    verify_signature(request, [b"tok"], RECEIVER, NOW)


# --- Keys ------------------------------------------------------------------------------------


def test_load_key_takes_the_token_as_bytes() -> None:
    assert load_auth_token(SDK_TOKEN.decode()) == SDK_TOKEN


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (SDK_TOKEN.decode() + "\n", "spaces or a line break"),
        ("t\u00f6ken", "printable ASCII"),
        ("MANWVLYTK4ZWU1YTY4QA", "Auth ID"),
        ("SAXXXXXXXXXXXXXXXXXX", "Auth ID"),
    ],
)
def test_load_key_refuses_what_is_not_a_token(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem) as caught:
        load_auth_token(text)
    assert text.strip() not in str(caught.value)


def test_a_receiver_with_signature_keys_needs_public_url() -> None:
    receiver = Receiver(name="pl", provider="plivo", auth=Auth(signature=[SDK_TOKEN.decode()]))
    with pytest.raises(ConfigError, match="set this receiver's public_url"):
        prepare_receiver(receiver, 0)


# --- Parsing ---------------------------------------------------------------------------------


def form(**fields: str) -> InboundRequest:
    return InboundRequest(method="POST", body=urlencode(fields).encode(), content_type=FORM)


def test_inbound_sample() -> None:
    # nyaruka/courier's Plivo test: an inbound SMS from a Malaysian number to a short code.
    assert parse_sample(PROVIDER, PROVIDER.samples[0]) == [
        MessageReceived(
            dedupe_key="inbound:abc1234",
            provider_message_id="abc1234",
            channel=Channel.SMS,
            sender="+60124361111",
            recipient="2020",
            body="Hello",
            occurred_at=None,
            metadata={"TotalRate": "0", "Units": "1", "TotalAmount": "0", "Type": "sms"},
        )
    ]


@pytest.mark.parametrize(
    ("index", "word", "status"), [(1, "delivered", Status.DELIVERED), (2, "sent", Status.SENT)]
)
def test_status_samples(index: int, word: str, status: Status) -> None:
    assert parse_sample(PROVIDER, PROVIDER.samples[index]) == [
        StatusReported(
            dedupe_key=f"status:12345:{word}",
            provider_message_id="12345",
            channel=Channel.SMS,
            status=status,
            provider_status=word,
            failure_reason=None,
            occurred_at=None,
            recipient="+60124361111",
            sender="2020",
        )
    ]


def status_callback(status: str, **fields: str) -> InboundRequest:
    values = {
        "MessageUUID": "db3ce55a-7f1d-11e1-8ea7-1231380bc196",
        "Status": status,
        "To": "447700900123",
        "From": "447700900999",
        "Type": "sms",
    }
    return form(**(values | fields))


def test_a_full_status_callback() -> None:
    # Field list from Plivo's "Message status callbacks" page.
    request = status_callback(
        "delivered",
        Units="1",
        TotalRate="0.0045",
        TotalAmount="0.0045",
        MCC="234",
        MNC="15",
        ErrorCode="",
        ParentMessageUUID="db3ce55a-7f1d-11e1-8ea7-1231380bc196",
        PartInfo="1 of 1",
        Sequence="3",
        MessageTime="2024-07-01 12:00:00.123456",
        QueuedTime="2024-07-01 12:00:00.223456",
        SentTime="2024-07-01 12:00:01.000000",
        DeliveryReportTime="2024-07-01 12:00:05.500000",
        PowerpackUUID="",
    )
    london = ReceiverContext(name="plivo", timezone=ZoneInfo("Europe/London"))
    assert parse(request, london) == [
        StatusReported(
            dedupe_key="status:db3ce55a-7f1d-11e1-8ea7-1231380bc196:delivered",
            provider_message_id="db3ce55a-7f1d-11e1-8ea7-1231380bc196",
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="delivered",
            failure_reason=None,
            # The latest time: DeliveryReportTime, 12:00:05.5 in London (BST, UTC+1).
            occurred_at=datetime(2024, 7, 1, 11, 0, 5, 500000, tzinfo=UTC),
            recipient="+447700900123",
            sender="+447700900999",
            created_at=datetime(2024, 7, 1, 11, 0, 0, 123456, tzinfo=UTC),
            sent_at=datetime(2024, 7, 1, 11, 0, 1, tzinfo=UTC),
            metadata={
                "Type": "sms",
                "Units": "1",
                "TotalRate": "0.0045",
                "TotalAmount": "0.0045",
                "MCC": "234",
                "MNC": "15",
                "PartInfo": "1 of 1",
                "Sequence": "3",
                "MessageTime": "2024-07-01 12:00:00.123456",
                "QueuedTime": "2024-07-01 12:00:00.223456",
                "SentTime": "2024-07-01 12:00:01.000000",
                "DeliveryReportTime": "2024-07-01 12:00:05.500000",
            },
        )
    ]


def test_a_part_of_a_long_message_reports_on_the_whole_message() -> None:
    [event] = parse(
        status_callback("sent", MessageUUID="part-2", ParentMessageUUID="part-1"), RECEIVER
    )
    assert isinstance(event, StatusReported)
    assert (event.provider_message_id, event.dedupe_key) == ("part-1", "status:part-2:sent")
    assert event.metadata["part_uuid"] == "part-2"


@pytest.mark.parametrize(("word", "expected"), sorted(PLIVO_STATUSES.items()))
def test_status_words(word: str, expected: tuple[Status, FailureReason | None]) -> None:
    [event] = parse(status_callback(word.upper()), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason) == expected


def test_unknown_status_word_is_kept_as_unknown() -> None:
    [event] = parse(status_callback("teleported"), RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.status, event.provider_status) == (Status.UNKNOWN, "teleported")


@pytest.mark.parametrize(("code", "reason"), sorted(ERROR_CODE_REASONS.items()))
def test_error_codes(code: str, reason: FailureReason) -> None:
    [receipt, *_] = parse(status_callback("undelivered", ErrorCode=code), RECEIVER)
    assert isinstance(receipt, StatusReported)
    assert receipt.failure_reason is reason


def test_unknown_error_code_keeps_unknown() -> None:
    [receipt] = parse(status_callback("failed", ErrorCode="1000"), RECEIVER)
    assert isinstance(receipt, StatusReported)
    assert (receipt.failure_reason, receipt.metadata["ErrorCode"]) == (
        FailureReason.UNKNOWN,
        "1000",
    )


def test_blocked_by_stop_is_an_opt_out() -> None:
    receipt, opt_out = parse(status_callback("failed", ErrorCode="200"), RECEIVER)
    assert isinstance(receipt, StatusReported)
    assert receipt.failure_reason is FailureReason.BLOCKED
    assert opt_out == OptOutReported(
        dedupe_key="optout:db3ce55a-7f1d-11e1-8ea7-1231380bc196",
        address="+447700900123",
        channel=Channel.SMS,
        occurred_at=None,
        source="status",
        provider_message_id="db3ce55a-7f1d-11e1-8ea7-1231380bc196",
        text="ErrorCode 200",
    )


def inbound(text: str, **fields: str) -> InboundRequest:
    values = {
        "From": "447700900123",
        "To": "447700900999",
        "Type": "sms",
        "Text": text,
        "MessageUUID": "in-1",
    }
    return form(**(values | fields))


def test_a_flagged_standard_keyword_is_reported_too() -> None:
    # One ledger row all the same: tests/store/test_opt_out_rules.py.
    events = parse(inbound("STOP", MessageIntent="optout"), RECEIVER)
    assert [type(event) for event in events] == [MessageReceived, OptOutReported]


def test_plivo_opt_out_keyword_the_store_does_not_know_is_an_opt_out() -> None:
    message, opt_out = parse(inbound("Stopp", MessageIntent="optout"), RECEIVER)
    assert isinstance(message, MessageReceived)
    assert opt_out == OptOutReported(
        dedupe_key="optout:in-1",
        address="+447700900123",
        channel=Channel.SMS,
        occurred_at=None,
        source="provider",
        opted_in=False,
        text="Stopp",
    )


def test_plivo_opt_in_keyword_is_an_opt_in() -> None:
    _, opt_in = parse(inbound("Subscribe", MessageIntent="optin"), RECEIVER)
    assert isinstance(opt_in, OptOutReported)
    assert opt_in.opted_in is True


def test_help_changes_nothing() -> None:
    [event] = parse(inbound("HELP", MessageIntent="help"), RECEIVER)
    assert isinstance(event, MessageReceived)
    assert event.metadata["MessageIntent"] == "help"


def test_inbound_mms_body_and_media() -> None:
    request = form(
        From="447700900123",
        To="447700900999",
        Type="mms",
        Body="Look",
        MessageUUID="mms-1",
        MediaCount="2",
        Media1="https://media.plivo.com/1",
        Media2="https://media.plivo.com/2",
    )
    [event] = parse(request, RECEIVER)
    assert isinstance(event, MessageReceived)
    assert event.body == "Look"
    assert event.metadata == {
        "Type": "mms",
        "MediaCount": "2",
        "media": ["https://media.plivo.com/1", "https://media.plivo.com/2"],
    }


def test_a_get_callback_reads_the_query() -> None:
    request = InboundRequest(
        method="GET",
        body=b"",
        content_type="",
        query={"MessageUUID": "g-1", "Status": "queued", "To": "447700900123"},
    )
    [event] = parse(request, RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.provider_message_id, event.status) == ("g-1", Status.PENDING)


def reject_reason(request: InboundRequest) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(request, RECEIVER)
    return caught.value.reason


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (
            InboundRequest(method="POST", body=b"", content_type=FORM),
            "empty request: expected Plivo's form or query parameters",
        ),
        (
            InboundRequest(
                method="POST", body=b'{"Status": "sent"}', content_type="application/json"
            ),
            "Plivo sends form parameters, not JSON",
        ),
        (
            form(Units="1"),
            "not a Plivo message callback: expected Status (a status callback) or Text "
            "(an inbound message)",
        ),
        (form(Status="sent"), "missing required field 'MessageUUID'"),
        (form(Text="hi", MessageUUID="x"), "missing required field 'From'"),
        (
            status_callback("sent", SentTime="yesterday"),
            "SentTime: not a timestamp: 'yesterday'",
        ),
    ],
)
def test_rejection_reasons(request_: InboundRequest, reason: str) -> None:
    assert reject_reason(request_) == reason
