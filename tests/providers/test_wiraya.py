"""Wiraya push notifications: customer templates as GET, JSON and XML, single and batched."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import msgspec
import pytest

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    StatusReported,
)
from callbox.providers.wiraya import parse, read_event_kind
from callbox.providers.wiraya_mapping import WirayaOptions

DOCS = Path(__file__).resolve().parents[2] / "docs" / "wiraya.md"

RECEIVER = ReceiverContext(name="wiraya", default_region="SE")


def receiver_with(**options: Any) -> ReceiverContext:
    return ReceiverContext(name="wiraya", default_region="SE", options=WirayaOptions(**options))


def get(query: dict[str, str]) -> InboundRequest:
    return InboundRequest(method="GET", body=b"", content_type="", query=query)


def post_json(document: Any) -> InboundRequest:
    return InboundRequest(
        method="POST", body=json.dumps(document).encode(), content_type="application/json"
    )


def post_xml(text: str) -> InboundRequest:
    return InboundRequest(method="POST", body=text.encode(), content_type="application/xml")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rejection(request: InboundRequest, receiver: ReceiverContext = RECEIVER) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(request, receiver)
    return caught.value.reason


# --- Wiraya's own documentation examples (seeds/003), pasted and filled in ---------------


def test_seed_get_example_with_a_mapping() -> None:
    # https://push.company.org/receiver.php?contact={RID}&id={ID}&to={RECIPIENT}&status={STATUS}
    receiver = receiver_with(
        mapping={"rid": "contact", "recipient": "to"}, direction="outgoing", channel="sms"
    )
    request = get({"contact": "58812", "id": "1000007", "to": "46710000123", "status": "DELIVERED"})

    assert parse(request, receiver) == [
        StatusReported(
            dedupe_key="outgoing:sms:1000007:DELIVERED",
            provider_message_id="1000007",
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="DELIVERED",
            failure_reason=None,
            occurred_at=None,
            recipient="+46710000123",
            metadata={"rid": "58812"},
        )
    ]


SEED_JSON_MAPPING = {
    "3": "UUID",
    "done_unixtime": "unixtime",
    "recipient_status": "recipient status",
}


def test_seed_json_example_has_no_status_and_is_rejected() -> None:
    # {"id":{ID},"UUID":"{3}","unixtime":{DONE_UNIXTIME},"recipient status":"{RECIPIENT_STATUS}"}
    body = (
        b'{"id":1000007,"UUID":"6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b7c4a13",'
        b'"unixtime":1547125204,"recipient status":"EXISTS"}'
    )
    receiver = receiver_with(mapping=SEED_JSON_MAPPING, direction="outgoing", channel="sms")
    request = InboundRequest(method="POST", body=body, content_type="application/json")

    assert rejection(request, receiver) == "missing required field 'status'"


def test_seed_json_example_with_a_status() -> None:
    body = (
        b'{"id":1000007,"UUID":"6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b7c4a13",'
        b'"unixtime":1547125204,"status":"NOT_DELIVERED","recipient status":"DOESNOTEXIST"}'
    )
    receiver = receiver_with(mapping=SEED_JSON_MAPPING, direction="outgoing", channel="sms")
    request = InboundRequest(method="POST", body=body, content_type="application/json")

    assert parse(request, receiver) == [
        StatusReported(
            dedupe_key="outgoing:sms:1000007:NOT_DELIVERED",
            provider_message_id="1000007",
            channel=Channel.SMS,
            status=Status.FAILED,
            provider_status="NOT_DELIVERED",
            failure_reason=FailureReason.INVALID_RECIPIENT,
            occurred_at=at("2019-01-10T13:00:04"),
            metadata={
                "recipient_status": "DOESNOTEXIST",
                "contact": {"3": "6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b7c4a13"},
            },
        )
    ]


SEED_BATCH = b"""{
       "batch":
       [
           {
               "id":1000007,
               "to":"46710000123",
               "when":"2019-01-10T13:00:00Z"
           },
           {
               "id":1000088,
               "to":"46710000456",
               "when":"2019-01-10T13:00:04Z"
           },
           {
               "id":1000105,
               "to":"46710000789",
               "when":"2019-01-10T13:00:11Z"
           }
       ]
   }"""


def test_seed_batch_example_without_status_names_the_first_item() -> None:
    receiver = receiver_with(
        mapping={"recipient": "to", "sent_dateiso": "when"}, direction="outgoing", channel="sms"
    )
    request = InboundRequest(method="POST", body=SEED_BATCH, content_type="application/json")

    assert rejection(request, receiver) == "batch item 0: missing required field 'status'"


def test_seed_batch_example_with_a_status_on_each_item() -> None:
    body = SEED_BATCH.replace(b'"to":', b'"status":"DELIVERED","to":')
    receiver = receiver_with(
        mapping={"recipient": "to", "sent_dateiso": "when"}, direction="outgoing", channel="sms"
    )
    request = InboundRequest(method="POST", body=body, content_type="application/json")

    assert parse(request, receiver) == [
        StatusReported(
            dedupe_key=f"outgoing:sms:{message_id}:DELIVERED",
            provider_message_id=message_id,
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="DELIVERED",
            failure_reason=None,
            occurred_at=at(when),
            recipient=recipient,
            sent_at=at(when),
        )
        for message_id, recipient, when in (
            ("1000007", "+46710000123", "2019-01-10T13:00:00"),
            ("1000088", "+46710000456", "2019-01-10T13:00:04"),
            ("1000105", "+46710000789", "2019-01-10T13:00:11"),
        )
    ]


# --- The same three events as GET, a JSON batch and an XML batch ------------------------

# Recommended field names, empty mapping. Each format uses another timestamp style.
THREE_AS_QUERIES = [
    {
        "type": "outgoing sms",
        "id": "1000007",
        "cid": "1042",
        "rid": "58812",
        "recipient": "46710000123",
        "sender": "Wiraya",
        "status": "DELIVERED",
        "recipient_status": "EXISTS",
        "content": "Your appointment is tomorrow at 10:00.",
        "sms_parts": "1",
        "sent_unixtime": "1710498600",
        "done_unixtime": "1710498604",
        "1": "Anna Svensson",
        "2": "A-2291",
    },
    {
        "type": "Outgoing Call",
        "id": "3000019",
        "recipient": "0710000456",
        "sender": "46769440100",
        "status": "NEXTATTEMPT",
        "key_choices": "1,3",
        "call_length": "0",
        "campaign_name": "Reminders",
        "sent_unixtime": "1710500400",
        "done_unixtime": "1710500445",
    },
    {
        "type": "incoming_sms",
        "id": "2000451",
        "sender": "+46701234567",
        "recipient": "46769440100",
        "content": "YES",
        "bulk": "OPT YES",
        "identifier": "OPT",
        "prefix": "OPT",
        "sent_unixtime": "1710499337",
    },
]

THREE_AS_JSON_BATCH = b"""{"batch": [
  {"type": "outgoing sms", "id": 1000007, "cid": 1042, "rid": "58812",
   "recipient": "46710000123", "sender": "Wiraya", "status": "DELIVERED",
   "recipient_status": "EXISTS", "content": "Your appointment is tomorrow at 10:00.",
   "sms_parts": 1, "sent_dateiso": "2024-03-15T10:30:00Z", "done_dateiso": "2024-03-15T10:30:04Z",
   "1": "Anna Svensson", "2": "A-2291", "unused": {"nested": true}},
  {"type": "Outgoing Call", "id": 3000019, "recipient": "0710000456", "sender": 46769440100,
   "status": "NEXTATTEMPT", "key_choices": "1,3", "call_length": 0,
   "campaign_name": "Reminders", "sent_dateiso": "2024-03-15T11:00:00Z",
   "done_dateiso": "2024-03-15T11:00:45Z", "bulk": ""},
  {"type": "incoming_sms", "id": "2000451", "sender": "+46701234567", "recipient": "46769440100",
   "content": "YES", "bulk": "OPT YES", "identifier": "OPT", "prefix": "OPT",
   "sent_dateiso": "2024-03-15T10:42:17Z", "status": null}
]}"""

THREE_AS_XML_BATCH = """<?xml version="1.0" encoding="UTF-8"?>
<batch>
  <event>
    <type>outgoing sms</type><id>1000007</id><cid>1042</cid><rid>58812</rid>
    <recipient>46710000123</recipient><sender>Wiraya</sender><status>DELIVERED</status>
    <recipient_status>EXISTS</recipient_status>
    <content>Your appointment is tomorrow at 10:00.</content><sms_parts>1</sms_parts>
    <sent_datetime>2024-03-15 10:30:00</sent_datetime>
    <done_datetime>2024-03-15 10:30:04</done_datetime>
    <field1>Anna Svensson</field1><field2>A-2291</field2>
  </event>
  <event>
    <type>Outgoing Call</type><id>3000019</id><recipient>0710000456</recipient>
    <sender>46769440100</sender><status>NEXTATTEMPT</status><key_choices>1,3</key_choices>
    <call_length>0</call_length><campaign_name>Reminders</campaign_name>
    <sent_datetime>2024-03-15 11:00:00</sent_datetime>
    <done_datetime>2024-03-15 11:00:45</done_datetime>
  </event>
  <event>
    <type>incoming_sms</type><id>2000451</id><sender>+46701234567</sender>
    <recipient>46769440100</recipient><content>YES</content><bulk>OPT YES</bulk>
    <identifier>OPT</identifier><prefix>OPT</prefix>
    <sent_datetime>2024-03-15 10:42:17</sent_datetime>
  </event>
</batch>"""

THREE_EVENTS: list[Event] = [
    StatusReported(
        dedupe_key="outgoing:sms:1000007:DELIVERED",
        provider_message_id="1000007",
        channel=Channel.SMS,
        status=Status.DELIVERED,
        provider_status="DELIVERED",
        failure_reason=None,
        occurred_at=at("2024-03-15T10:30:04"),
        recipient="+46710000123",
        sender="Wiraya",
        body="Your appointment is tomorrow at 10:00.",
        sent_at=at("2024-03-15T10:30:00"),
        metadata={
            "type": "outgoing sms",
            "cid": "1042",
            "rid": "58812",
            "recipient_status": "EXISTS",
            "sms_parts": 1,
            "contact": {"1": "Anna Svensson", "2": "A-2291"},
        },
    ),
    StatusReported(
        dedupe_key="outgoing:call:3000019:NEXTATTEMPT",
        provider_message_id="3000019",
        channel=Channel.VOICE,
        status=Status.PENDING,
        provider_status="NEXTATTEMPT",
        failure_reason=None,
        occurred_at=at("2024-03-15T11:00:45"),
        recipient="+46710000456",
        sender="+46769440100",
        sent_at=at("2024-03-15T11:00:00"),
        metadata={
            "type": "Outgoing Call",
            "key_choices": "1,3",
            "call_length": 0,
            "campaign_name": "Reminders",
        },
    ),
    MessageReceived(
        dedupe_key="incoming:sms:2000451",
        provider_message_id="2000451",
        channel=Channel.SMS,
        sender="+46701234567",
        recipient="+46769440100",
        body="OPT YES",
        occurred_at=at("2024-03-15T10:42:17"),
        provider_status="RECEIVED",
        metadata={"type": "incoming_sms", "content": "YES", "identifier": "OPT", "prefix": "OPT"},
    ),
]


def test_three_get_requests_give_the_three_events() -> None:
    events = [event for query in THREE_AS_QUERIES for event in parse(get(query), RECEIVER)]

    assert events == THREE_EVENTS


def test_a_json_batch_gives_the_same_three_events() -> None:
    request = InboundRequest(
        method="POST", body=THREE_AS_JSON_BATCH, content_type="application/json"
    )

    assert parse(request, RECEIVER) == THREE_EVENTS


def test_an_xml_batch_gives_the_same_three_events() -> None:
    assert parse(post_xml(THREE_AS_XML_BATCH), RECEIVER) == THREE_EVENTS


def test_single_json_and_xml_events_give_the_same_events() -> None:
    items = json.loads(THREE_AS_JSON_BATCH)["batch"]
    xml_items = re.findall(r"<event>.*?</event>", THREE_AS_XML_BATCH, flags=re.DOTALL)

    assert [event for item in items for event in parse(post_json(item), RECEIVER)] == THREE_EVENTS
    assert [event for item in xml_items for event in parse(post_xml(item), RECEIVER)] == (
        THREE_EVENTS
    )


def test_a_rechunked_batch_gives_the_same_dedupe_keys() -> None:
    items = json.loads(THREE_AS_JSON_BATCH)["batch"]
    first = parse(post_json({"batch": items[:2]}), RECEIVER)
    second = parse(post_json({"batch": items[1:]}), RECEIVER)

    assert [event.dedupe_key for event in first + second] == [
        "outgoing:sms:1000007:DELIVERED",
        "outgoing:call:3000019:NEXTATTEMPT",
        "outgoing:call:3000019:NEXTATTEMPT",
        "incoming:sms:2000451",
    ]


def test_a_batch_of_a_thousand_items_parses() -> None:
    item = {"type": "outgoing sms", "recipient": "46710000123", "status": "DELIVERED"}
    batch = {"batch": [{**item, "id": 1000000 + number} for number in range(1000)]}

    events = parse(post_json(batch), RECEIVER)

    assert len(events) == 1000
    assert len({event.dedupe_key for event in events}) == 1000


# --- One bad item rejects the whole batch -----------------------------------------------


def test_a_json_batch_with_one_item_missing_its_id_names_the_item() -> None:
    items = [{"type": "outgoing sms", "id": number, "status": "DELIVERED"} for number in range(5)]
    del items[3]["id"]

    assert rejection(post_json({"batch": items})) == "batch item 3: missing required field 'id'"


def test_an_xml_batch_with_one_bad_timestamp_names_the_item_and_field() -> None:
    body = (
        "<batch>"
        "<event><type>outgoing sms</type><id>1</id><status>DELIVERED</status></event>"
        "<event><type>outgoing sms</type><id>2</id><status>DELIVERED</status>"
        "<done_unixtime>soon</done_unixtime></event>"
        "</batch>"
    )

    assert rejection(post_xml(body)) == "batch item 1: done_unixtime: not a Unix timestamp: 'soon'"


@pytest.mark.parametrize(
    ("items", "reason"),
    [
        (
            [{"type": "outgoing sms", "id": 1, "status": "DELIVERED"}, "oops"],
            "batch item 1: expected a JSON object, got a JSON string",
        ),
        (
            [{"type": "outgoing sms", "id": 1, "status": {"code": "DELIVERED"}}],
            "batch item 0: status: expected text or a number, got a JSON object",
        ),
        (
            [{"type": "outgoing sms", "id": 1, "status": "OK", "sent_dateiso": "yesterday"}],
            "batch item 0: sent_dateiso: not a timestamp: 'yesterday'",
        ),
        (
            [{"type": "outgoing sms", "id": 1, "status": "OK"}, {"type": "mms", "id": 2}],
            "batch item 1: cannot tell incoming from outgoing: type 'mms', and the receiver"
            " sets no direction",
        ),
        (
            [{"type": "incoming sms", "id": 1, "content": "hi"}],
            "batch item 0: missing required field 'sender'",
        ),
    ],
)
def test_a_bad_item_rejects_the_whole_batch(items: list[Any], reason: str) -> None:
    assert rejection(post_json({"batch": items})) == reason


# --- A customer's own template: renamed and nested fields -------------------------------

NESTED_JSON_MAPPING = {
    "type": "kind",
    "id": "data.sms.id",
    "recipient": "data.sms.to",
    "sender": "data.sms.from",
    "status": "result.code",
    "done_datetime": "result.at",
    "sent_unixtime": "sentAt",
    "3": "data.uuid",
    "1": "name",
}

NESTED_JSON_EVENT = {
    "kind": "Outgoing_SMS",
    "sentAt": 1710498600,
    "data": {
        "sms": {"id": 1000007, "to": "0710000123", "from": "ACME"},
        "uuid": "6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b7c4a13",
    },
    "result": {"code": "delivered", "at": "2024-03-15 10:30:04"},
    "name": "Anna Svensson",
    "2": "A-2291",
}

CUSTOM_EVENT = StatusReported(
    dedupe_key="outgoing:sms:1000007:DELIVERED",
    provider_message_id="1000007",
    channel=Channel.SMS,
    status=Status.DELIVERED,
    provider_status="delivered",
    failure_reason=None,
    occurred_at=at("2024-03-15T10:30:04"),
    recipient="+46710000123",
    sender="ACME",
    sent_at=at("2024-03-15T10:30:00"),
    metadata={
        "type": "Outgoing_SMS",
        "contact": {
            "1": "Anna Svensson",
            "2": "A-2291",
            "3": "6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b7c4a13",
        },
    },
)


def test_a_nested_json_template_with_dotted_paths() -> None:
    receiver = receiver_with(mapping=NESTED_JSON_MAPPING)

    assert parse(post_json(NESTED_JSON_EVENT), receiver) == [CUSTOM_EVENT]
    assert parse(post_json({"batch": [NESTED_JSON_EVENT]}), receiver) == [CUSTOM_EVENT]


def test_a_literal_key_with_dots_wins_over_the_dotted_path() -> None:
    receiver = receiver_with(mapping={"id": "sms.id"})
    document = {"type": "outgoing sms", "sms.id": "7", "sms": {"id": "8"}, "status": "DELIVERED"}

    [event] = parse(post_json(document), receiver)

    assert event.provider_message_id == "7"


def test_a_missing_mapped_field_names_the_customer_path() -> None:
    receiver = receiver_with(mapping=NESTED_JSON_MAPPING)
    document = {**NESTED_JSON_EVENT, "data": {"sms": {"to": "0710000123"}}}

    assert rejection(post_json(document), receiver) == (
        "missing required field 'id' (read from 'data.sms.id')"
    )


NESTED_XML_MAPPING = {
    "type": "@kind",
    "id": "Event/Sms/@id",
    "recipient": "Sms/To",
    "sender": "Sms.From",
    "status": "Result/Code",
    "done_datetime": "Result/At",
    "sent_unixtime": "SentAt",
    "3": "Uuid",
    "1": "Name",
}

NESTED_XML_EVENT = """<Event xmlns="urn:example:push" kind="Outgoing_SMS">
  <SentAt>1710498600</SentAt>
  <Sms id="1000007"><To>0710000123</To><From>ACME</From></Sms>
  <Uuid>6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b7c4a13</Uuid>
  <Result><Code>delivered</Code><At>2024-03-15 10:30:04</At></Result>
  <Name>Anna Svensson</Name>
  <field2>A-2291</field2>
</Event>"""


def test_a_nested_xml_template_with_element_paths() -> None:
    receiver = receiver_with(mapping=NESTED_XML_MAPPING)

    assert parse(post_xml(NESTED_XML_EVENT), receiver) == [CUSTOM_EVENT]
    assert parse(post_xml(f"<batch>{NESTED_XML_EVENT}</batch>"), receiver) == [CUSTOM_EVENT]


def test_renamed_query_parameters() -> None:
    receiver = receiver_with(
        mapping={"type": "t", "id": "msg", "recipient": "to", "status": "s", "1": "name"}
    )
    request = get({"t": "outgoing sms", "msg": "42", "to": "0710000123", "s": "SPAM", "name": "A"})

    assert parse(request, receiver) == [
        StatusReported(
            dedupe_key="outgoing:sms:42:SPAM",
            provider_message_id="42",
            channel=Channel.SMS,
            status=Status.FAILED,
            provider_status="SPAM",
            failure_reason=FailureReason.BLOCKED,
            occurred_at=None,
            recipient="+46710000123",
            metadata={"type": "outgoing sms", "contact": {"1": "A"}},
        )
    ]


def test_a_name_mapped_to_another_field_is_not_also_a_contact_field() -> None:
    receiver = receiver_with(mapping={"id": "1"})
    document = {"type": "outgoing sms", "1": "555", "2": "Anna", "status": "DELIVERED"}

    [event] = parse(post_json(document), receiver)

    assert isinstance(event, StatusReported)
    assert (event.provider_message_id, event.metadata) == (
        "555",
        {"type": "outgoing sms", "contact": {"2": "Anna"}},
    )


# --- Options: the mapping is validated ---------------------------------------------------


def test_an_unknown_mapping_key_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown Callbox field 'msisdn' in the Wiraya mapping"):
        WirayaOptions(mapping={"msisdn": "to"})


def test_a_placeholder_spelt_as_in_the_template_gets_a_suggestion() -> None:
    with pytest.raises(ValueError, match=r"unknown Callbox field '\{ID\}'.*did you mean 'id'"):
        WirayaOptions(mapping={"{ID}": "id"})


def test_options_from_the_config_file_are_validated() -> None:
    with pytest.raises(msgspec.ValidationError, match="unknown Callbox field '100'"):
        msgspec.convert({"mapping": {"100": "x"}}, WirayaOptions)
    with pytest.raises(msgspec.ValidationError, match="unknown field `mappings`"):
        msgspec.convert({"mappings": {"id": "x"}}, WirayaOptions)
    with pytest.raises(
        msgspec.ValidationError, match="direction must be one of incoming, outgoing"
    ):
        msgspec.convert({"direction": "inbound"}, WirayaOptions)
    with pytest.raises(msgspec.ValidationError, match="channel must be one of sms, call"):
        msgspec.convert({"channel": "voice"}, WirayaOptions)
    with pytest.raises(msgspec.ValidationError, match="mapping for 'id' is an empty path"):
        msgspec.convert({"mapping": {"id": " "}}, WirayaOptions)


def test_options_are_normalised() -> None:
    options = msgspec.convert(
        {"mapping": {"id": " data.id ", "99": "x"}, "direction": "Outgoing", "channel": "SMS"},
        WirayaOptions,
    )

    assert options == WirayaOptions(
        mapping={"id": "data.id", "99": "x"}, direction="outgoing", channel="sms"
    )


# --- {TYPE}, direction and channel -------------------------------------------------------


@pytest.mark.parametrize(
    ("type_value", "kind"),
    [
        ("incoming sms", ("incoming", "sms")),
        ("Incoming SMS", ("incoming", "sms")),
        ("outgoing_sms", ("outgoing", "sms")),
        ("OUTGOING CALL", ("outgoing", "call")),
        ("incomingCall", ("incoming", "call")),
    ],
)
def test_type_gives_direction_and_channel(type_value: str, kind: tuple[str, str]) -> None:
    assert read_event_kind(type_value, WirayaOptions()) == kind


def test_type_wins_over_the_options_and_options_fill_what_type_lacks() -> None:
    options = WirayaOptions(direction="incoming", channel="call")

    assert read_event_kind("outgoing sms", options) == ("outgoing", "sms")
    assert read_event_kind("outgoing", options) == ("outgoing", "call")
    assert read_event_kind(None, options) == ("incoming", "call")


@pytest.mark.parametrize("call_length", ["\u00b2", "9" * 5000])
def test_a_count_that_is_no_number_int_reads_is_kept_as_text(call_length: str) -> None:
    receiver = receiver_with(direction="incoming", channel="call")
    request = get({"id": "4000007", "sender": "0701234567", "call_length": call_length})

    [event] = parse(request, receiver)

    assert event.metadata == {"call_length": call_length}


def test_without_type_the_options_decide() -> None:
    receiver = receiver_with(direction="incoming", channel="call")
    request = get({"id": "4000007", "sender": "0701234567", "call_length": "31"})

    assert parse(request, receiver) == [
        MessageReceived(
            dedupe_key="incoming:call:4000007",
            provider_message_id="4000007",
            channel=Channel.VOICE,
            sender="+46701234567",
            recipient=None,
            body=None,
            occurred_at=None,
            provider_status="RECEIVED",
            metadata={"call_length": 31},
        )
    ]


def test_without_type_or_options_the_event_is_rejected() -> None:
    request = get({"id": "1", "status": "DELIVERED"})

    assert rejection(request) == (
        "cannot tell incoming from outgoing: no 'type' field, and the receiver sets no direction"
    )
    assert rejection(request, receiver_with(direction="outgoing")) == (
        "cannot tell SMS from call: no 'type' field, and the receiver sets no channel"
    )


def test_a_type_naming_neither_channel_is_rejected() -> None:
    request = get({"type": "outgoing mms", "id": "1", "status": "DELIVERED"})

    assert rejection(request) == (
        "cannot tell SMS from call: type 'outgoing mms', and the receiver sets no channel"
    )


# --- Statuses -----------------------------------------------------------------------------

SMS_STATUSES = [
    ("DELIVERED", Status.DELIVERED, None),
    ("NOT_DELIVERED", Status.FAILED, FailureReason.UNKNOWN),
    ("NOT_WHITELISTED", Status.FAILED, FailureReason.BLOCKED),
    ("OPTOUT", Status.FAILED, FailureReason.BLOCKED),
    ("FAILURE", Status.FAILED, FailureReason.TECHNICAL),
    ("UNKNOWN", Status.UNKNOWN, None),
    ("SPAM", Status.FAILED, FailureReason.BLOCKED),
    ("TEST", Status.UNKNOWN, None),
]
CALL_STATUSES = [
    ("DELIVERED", Status.DELIVERED, None),
    ("NEXTATTEMPT", Status.PENDING, None),
    ("NOTREACHED", Status.FAILED, FailureReason.TEMPORARY),
    ("OPTOUT", Status.FAILED, FailureReason.BLOCKED),
    ("INCORRECTNUMBER", Status.FAILED, FailureReason.INVALID_RECIPIENT),
    ("SPAM", Status.FAILED, FailureReason.BLOCKED),
    ("TEST", Status.UNKNOWN, None),
]


def outgoing_query(type_value: str, status: str, **extra: str) -> dict[str, str]:
    return {
        "type": type_value,
        "id": "1000007",
        "recipient": "46710000123",
        "sender": "46769440100",
        "status": status,
        "sent_dateiso": "2024-03-15T10:30:00Z",
        "done_dateiso": "2024-03-15T10:31:00Z",
        **extra,
    }


def expected_status(
    channel: Channel,
    provider_status: str,
    status: Status,
    reason: FailureReason | None,
    **metadata: str,
) -> StatusReported:
    name = "sms" if channel is Channel.SMS else "call"
    return StatusReported(
        dedupe_key=f"outgoing:{name}:1000007:{provider_status.upper()}",
        provider_message_id="1000007",
        channel=channel,
        status=status,
        provider_status=provider_status,
        failure_reason=reason,
        occurred_at=at("2024-03-15T10:31:00"),
        recipient="+46710000123",
        sender="+46769440100",
        sent_at=at("2024-03-15T10:30:00"),
        metadata={"type": f"outgoing {name}", **metadata},
        is_test=provider_status.upper() == "TEST",
    )


def expected_opt_out(channel: Channel) -> OptOutReported:
    name = "sms" if channel is Channel.SMS else "call"
    return OptOutReported(
        dedupe_key=f"optout:{name}:1000007",
        address="+46710000123",
        channel=channel,
        occurred_at=at("2024-03-15T10:31:00"),
        source="status",
        provider_message_id="1000007",
    )


@pytest.mark.parametrize(("value", "status", "reason"), SMS_STATUSES)
def test_every_sms_status(value: str, status: Status, reason: FailureReason | None) -> None:
    expected: list[Event] = [expected_status(Channel.SMS, value, status, reason)]
    if value == "OPTOUT":
        expected.append(expected_opt_out(Channel.SMS))

    assert parse(get(outgoing_query("outgoing sms", value)), RECEIVER) == expected


@pytest.mark.parametrize(("value", "status", "reason"), CALL_STATUSES)
def test_every_call_status(value: str, status: Status, reason: FailureReason | None) -> None:
    expected: list[Event] = [expected_status(Channel.VOICE, value, status, reason)]
    if value == "OPTOUT":
        expected.append(expected_opt_out(Channel.VOICE))

    assert parse(get(outgoing_query("outgoing call", value)), RECEIVER) == expected


def test_an_unknown_status_is_kept_as_unknown() -> None:
    events = parse(get(outgoing_query("outgoing sms", "QUEUED_AT_OPERATOR")), RECEIVER)

    assert events == [expected_status(Channel.SMS, "QUEUED_AT_OPERATOR", Status.UNKNOWN, None)]


def test_statuses_are_matched_case_insensitively_and_keep_their_spelling() -> None:
    [lower] = parse(get(outgoing_query("outgoing sms", "delivered")), RECEIVER)
    [upper] = parse(get(outgoing_query("outgoing sms", "DELIVERED")), RECEIVER)

    assert lower == expected_status(Channel.SMS, "delivered", Status.DELIVERED, None)
    assert lower.dedupe_key == upper.dedupe_key


@pytest.mark.parametrize(
    ("value", "recipient_status", "reason"),
    [
        ("NOT_DELIVERED", "DOESNOTEXIST", FailureReason.INVALID_RECIPIENT),
        ("NOT_DELIVERED", "EXISTS", FailureReason.UNKNOWN),
        ("NOT_DELIVERED", "UNKNOWN", FailureReason.UNKNOWN),
        ("NOT_DELIVERED", "LANDLINENUMBER", FailureReason.UNKNOWN),
        ("FAILURE", "DOESNOTEXIST", FailureReason.TECHNICAL),
        ("SPAM", "DOESNOTEXIST", FailureReason.BLOCKED),
    ],
)
def test_recipient_status_refines_only_an_unexplained_failure(
    value: str, recipient_status: str, reason: FailureReason
) -> None:
    query = outgoing_query("outgoing sms", value, recipient_status=recipient_status)

    assert parse(get(query), RECEIVER) == [
        expected_status(
            Channel.SMS, value, Status.FAILED, reason, recipient_status=recipient_status
        )
    ]


def test_an_opt_out_gives_a_status_report_and_an_opt_out() -> None:
    document = {
        "type": "outgoing sms",
        "id": 1000105,
        "recipient": "0710000789",
        "status": "OPTOUT",
        "done_unixtime": 1710498601,
    }

    assert parse(post_json(document), RECEIVER) == [
        StatusReported(
            dedupe_key="outgoing:sms:1000105:OPTOUT",
            provider_message_id="1000105",
            channel=Channel.SMS,
            status=Status.FAILED,
            provider_status="OPTOUT",
            failure_reason=FailureReason.BLOCKED,
            occurred_at=at("2024-03-15T10:30:01"),
            recipient="+46710000789",
            metadata={"type": "outgoing sms"},
        ),
        OptOutReported(
            dedupe_key="optout:sms:1000105",
            address="+46710000789",
            channel=Channel.SMS,
            occurred_at=at("2024-03-15T10:30:01"),
            source="status",
            provider_message_id="1000105",
        ),
    ]


def test_an_opt_out_without_a_recipient_gives_only_the_status_report() -> None:
    events = parse(post_json({"type": "outgoing sms", "id": 1, "status": "OPTOUT"}), RECEIVER)

    assert [type(event) for event in events] == [StatusReported]


def test_test_events_are_kept_and_flagged() -> None:
    [outgoing] = parse(get(outgoing_query("outgoing sms", "TEST")), RECEIVER)
    [incoming] = parse(
        get({"type": "incoming sms", "id": "9", "sender": "0701234567", "status": "TEST"}),
        RECEIVER,
    )

    assert outgoing == expected_status(Channel.SMS, "TEST", Status.UNKNOWN, None)
    assert isinstance(outgoing, StatusReported)
    assert outgoing.is_test
    assert incoming == MessageReceived(
        dedupe_key="incoming:sms:9",
        provider_message_id="9",
        channel=Channel.SMS,
        sender="+46701234567",
        recipient=None,
        body=None,
        occurred_at=None,
        provider_status="TEST",
        metadata={"type": "incoming sms"},
        is_test=True,
    )


def test_an_outgoing_event_needs_a_status() -> None:
    assert rejection(get({"type": "outgoing sms", "id": "1"})) == "missing required field 'status'"


# --- Incoming messages ------------------------------------------------------------------


def test_an_incoming_sms_without_bulk_uses_content() -> None:
    request = get(
        {
            "type": "incoming sms",
            "id": "2000452",
            "sender": "0701234567",
            "recipient": "46769440100",
            "content": "Ja tack",
            "sent_datetime": "2024-03-15 10:42:17",
            "done_datetime": "0000-00-00 00:00:00",
        }
    )

    assert parse(request, RECEIVER) == [
        MessageReceived(
            dedupe_key="incoming:sms:2000452",
            provider_message_id="2000452",
            channel=Channel.SMS,
            sender="+46701234567",
            recipient="+46769440100",
            body="Ja tack",
            occurred_at=at("2024-03-15T10:42:17"),
            provider_status="RECEIVED",
            metadata={"type": "incoming sms", "done_datetime": "0000-00-00 00:00:00"},
        )
    ]


def test_an_incoming_event_needs_a_sender() -> None:
    request = get({"type": "incoming sms", "id": "2000452", "content": "Ja"})

    assert rejection(request) == "missing required field 'sender'"
    assert rejection(request, receiver_with(mapping={"sender": "from"})) == (
        "missing required field 'sender' (read from 'from')"
    )


def test_dedupe_keys_are_stable_and_distinct() -> None:
    first = parse(get(outgoing_query("outgoing sms", "DELIVERED")), RECEIVER)
    again = parse(get(outgoing_query("outgoing sms", "DELIVERED")), RECEIVER)
    other = parse(get(outgoing_query("outgoing sms", "NOT_DELIVERED")), RECEIVER)
    call = parse(get(outgoing_query("outgoing call", "DELIVERED")), RECEIVER)

    assert first[0].dedupe_key == again[0].dedupe_key
    assert len({first[0].dedupe_key, other[0].dedupe_key, call[0].dedupe_key}) == 3


# --- Timestamps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "occurred_at", "sent_at"),
    [
        ({"done_unixtime": "1710498660", "sent_unixtime": "1710498600"}, "10:31:00", "10:30:00"),
        ({"done_datetime": "2024-03-15 10:31:00"}, "10:31:00", None),
        ({"sent_dateiso": "2024-03-15T12:30:00+02:00"}, "10:30:00", "10:30:00"),
        ({"done_unixtime": "0", "sent_datetime": "2024-03-15 10:30:00"}, "10:30:00", "10:30:00"),
        (
            {"done_unixtime": "{DONE_UNIXTIME}", "sent_unixtime": "1710498600"},
            "10:30:00",
            "10:30:00",
        ),
        ({"done_dateiso": "", "done_unixtime": "1710498660.5"}, "10:31:00.500000", None),
        ({}, None, None),
    ],
)
def test_outgoing_times(
    extra: dict[str, str], occurred_at: str | None, sent_at: str | None
) -> None:
    query = {"type": "outgoing sms", "id": "1", "status": "DELIVERED", **extra}

    [event] = parse(get(query), RECEIVER)

    assert isinstance(event, StatusReported)
    assert event.occurred_at == (occurred_at and at(f"2024-03-15T{occurred_at}"))
    assert event.sent_at == (sent_at and at(f"2024-03-15T{sent_at}"))


def test_naive_times_are_read_in_the_receivers_timezone() -> None:
    receiver = ReceiverContext(name="wiraya", timezone=ZoneInfo("Europe/Stockholm"))
    query = {"type": "outgoing sms", "id": "1", "status": "DELIVERED"}

    [event] = parse(get({**query, "done_datetime": "2024-03-15 11:31:00"}), receiver)

    assert event.occurred_at == at("2024-03-15T10:31:00")


# --- Malformed requests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", "", "empty body: expected JSON or XML, or a GET with a query string"),
        (b"", "application/json", "empty body: expected JSON"),
        (b"", "application/xml", "empty body: expected XML"),
        (
            b"id=1&status=DELIVERED",
            "text/plain",
            "expected a JSON or XML body, got content type 'text/plain'",
        ),
        (
            b'{"id": 1,',
            "application/json",
            "invalid JSON: Expecting property name enclosed in double quotes at line 1 column 10",
        ),
        (b"[1, 2]", "application/json", "expected a JSON object, got a JSON array"),
        (
            b'{"batch": {"id": 1}}',
            "application/json",
            "batch: expected a JSON array, got a JSON object",
        ),
        (b'{"batch": []}', "application/json", "batch is empty"),
        (b"<batch/>", "application/xml", "batch is empty"),
        (b"<event><id>1</event>", "application/xml", "malformed XML at line 1 column 14"),
        (
            b'<!DOCTYPE e [<!ENTITY x "y">]><event><id>&x;</id></event>',
            "application/xml",
            "forbidden XML construct: DTDForbidden",
        ),
    ],
)
def test_malformed_requests_are_rejected(body: bytes, content_type: str, reason: str) -> None:
    request = InboundRequest(method="POST", body=body, content_type=content_type)

    assert rejection(request) == reason


def test_an_empty_post_with_a_query_string_is_read_like_a_get() -> None:
    query = outgoing_query("outgoing sms", "DELIVERED")
    request = InboundRequest(method="POST", body=b"", content_type="", query=query)

    assert parse(request, RECEIVER) == parse(get(query), RECEIVER)


# --- Documented templates (the samples parse without a mapping: see test_contract.py) ------


# Values Wiraya would fill into the recommended templates for an outgoing SMS.
FILLED = {
    "TYPE": "Outgoing SMS",
    "ID": "1000007",
    "CID": "1042",
    "RID": "58812",
    "PRID": "311",
    "RECIPIENT": "46710000123",
    "SENDER": "Wiraya",
    "STATUS": "NOT_DELIVERED",
    "RECIPIENT_STATUS": "DOESNOTEXIST",
    "CONTENT": "Your appointment is tomorrow at 10:00.",
    "BULK": "",
    "IDENTIFIER": "",
    "PREFIX": "",
    "SMS_PARTS": "1",
    "KEY_CHOICES": "",
    "CALL_LENGTH": "",
    "CAMPAIGN_NAME": "Appointments",
    "SENT_DATEISO": "2024-03-15T10:30:00Z",
    "DONE_DATEISO": "2024-03-15T10:31:12Z",
    "1": "Anna Svensson",
    "2": "A-2291",
}

FROM_DOCUMENTED_TEMPLATE = StatusReported(
    dedupe_key="outgoing:sms:1000007:NOT_DELIVERED",
    provider_message_id="1000007",
    channel=Channel.SMS,
    status=Status.FAILED,
    provider_status="NOT_DELIVERED",
    failure_reason=FailureReason.INVALID_RECIPIENT,
    occurred_at=at("2024-03-15T10:31:12"),
    recipient="+46710000123",
    sender="Wiraya",
    body="Your appointment is tomorrow at 10:00.",
    sent_at=at("2024-03-15T10:30:00"),
    metadata={
        "type": "Outgoing SMS",
        "cid": "1042",
        "rid": "58812",
        "prid": "311",
        "recipient_status": "DOESNOTEXIST",
        "sms_parts": 1,
        "campaign_name": "Appointments",
        "contact": {"1": "Anna Svensson", "2": "A-2291"},
    },
)


def documented_template(language: str) -> str:
    match = re.search(rf"```{language} wiraya-template\n(.*?)```", DOCS.read_text(), re.DOTALL)
    assert match, f"no {language} template in {DOCS.name}"
    return match.group(1)


def fill(template: str) -> str:
    return re.sub(r"\{([A-Z_0-9]+)\}", lambda match: FILLED[match.group(1)], template)


def test_the_documented_json_template_needs_no_mapping() -> None:
    body = fill(documented_template("json")).encode()
    batch = b'{"batch": [' + body + b"]}"

    for payload in (body, batch):
        request = InboundRequest(method="POST", body=payload, content_type="application/json")
        assert parse(request, RECEIVER) == [FROM_DOCUMENTED_TEMPLATE]


def test_the_documented_xml_template_needs_no_mapping() -> None:
    body = fill(documented_template("xml"))

    assert parse(post_xml(body), RECEIVER) == [FROM_DOCUMENTED_TEMPLATE]
    assert parse(post_xml(f"<batch>{body}{body}</batch>"), RECEIVER) == [
        FROM_DOCUMENTED_TEMPLATE,
        FROM_DOCUMENTED_TEMPLATE,
    ]


def test_the_documented_get_template_needs_no_mapping() -> None:
    url = urlsplit(documented_template("text").strip())
    query = {name: fill(value) for name, value in parse_qsl(url.query)}

    # The GET template leaves out the message text and campaign name (see the docs).
    assert parse(get(query), RECEIVER) == [
        replace(
            FROM_DOCUMENTED_TEMPLATE,
            body=None,
            metadata={
                "type": "Outgoing SMS",
                "cid": "1042",
                "rid": "58812",
                "prid": "311",
                "recipient_status": "DOESNOTEXIST",
                "sms_parts": 1,
                "contact": {"1": "Anna Svensson"},
            },
        )
    ]


def documented_receivers() -> list[dict[str, Any]]:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(), re.DOTALL)
    return [tomllib.loads(block)["receivers"][0] for block in blocks]


def test_the_documented_receivers_have_valid_options() -> None:
    common = {"name", "provider", "our_address", "auth"}
    receivers = documented_receivers()

    assert len(receivers) == 5
    for table in receivers:
        options = {key: value for key, value in table.items() if key not in common}
        assert msgspec.convert(options, WirayaOptions).mapping == options.get("mapping", {})


def test_the_documented_xml_mapping_example() -> None:
    [table] = [table for table in documented_receivers() if table["name"] == "wiraya-xml"]
    receiver = receiver_with(mapping=table["mapping"])
    body = (
        '<Event kind="Outgoing call"><Call id="3000019"><To>0710000123</To></Call>'
        "<Result>INCORRECTNUMBER</Result></Event>"
    )

    assert parse(post_xml(body), receiver) == [
        StatusReported(
            dedupe_key="outgoing:call:3000019:INCORRECTNUMBER",
            provider_message_id="3000019",
            channel=Channel.VOICE,
            status=Status.FAILED,
            provider_status="INCORRECTNUMBER",
            failure_reason=FailureReason.INVALID_RECIPIENT,
            occurred_at=None,
            recipient="+46710000123",
            metadata={"type": "Outgoing call"},
        )
    ]
