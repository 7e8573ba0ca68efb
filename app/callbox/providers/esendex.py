"""Esendex push notifications: inbound SMS, delivered and failed receipts, opt-outs (XML).

The kind is told from the root element's local name, so one URL can serve every kind and the
REST API's ``xmlns="http://api.esendex.com/ns/"`` is accepted as well as no namespace. Every
push carries an ``Id`` of its own that a retry repeats, so it is the event's dedupe key.
"""

from __future__ import annotations

from datetime import datetime
from xml.etree.ElementTree import Element

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
    JSONValue,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    Provider,
    ReceiverContext,
    SamplePayload,
    StatusReported,
)
from callbox.providers.payloads import (
    address,
    child_element,
    child_text,
    decode_xml,
    local_name,
    parse_timestamp,
)

# Receipts carry no status word: the root element is the status.
ESENDEX_RECEIPT_STATUSES: dict[str, Status] = {
    "MessageDelivered": Status.DELIVERED,
    "MessageFailed": Status.FAILED,
}

# <FailureReason><PermanentFailure> is undocumented (seen in one third-party receiver);
# without it Esendex does not say whether retrying could work.
PERMANENT_FAILURE_REASONS: dict[str, FailureReason] = {
    "true": FailureReason.PERMANENT,
    "false": FailureReason.TEMPORARY,
}

_KNOWN_ROOTS = "InboundMessage, MessageDelivered, MessageFailed or OptOut"
_UTF8_BOM = b"\xef\xbb\xbf"


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    root = decode_esendex_push(request.body)
    kind = local_name(root.tag)
    if kind == "InboundMessage":
        return [parse_inbound_message(root, receiver)]
    if kind in ESENDEX_RECEIPT_STATUSES:
        return [parse_receipt(root, kind, receiver)]
    if kind == "OptOut":
        return [parse_opt_out(root, receiver)]
    raise PayloadRejected(f"unknown root element <{kind}>: expected {_KNOWN_ROOTS}")


def decode_esendex_push(body: bytes) -> Element:
    """Parse the push with defusedxml (no DTDs, entities or external references)."""
    start = body.removeprefix(_UTF8_BOM).lstrip()
    if start and not start.startswith(b"<"):
        raise PayloadRejected(
            f"expected an Esendex push XML document ({_KNOWN_ROOTS}), "
            "but the body does not start with '<'"
        )
    return decode_xml(body)


def parse_inbound_message(root: Element, receiver: ReceiverContext) -> MessageReceived:
    push_id = _required_text(root, "Id")
    message_id = _required_text(root, "MessageId")
    sender = _address_text(root, "From")
    if not sender:
        raise PayloadRejected("missing required element <From> in <InboundMessage>")
    recipient = _address_text(root, "To")
    return MessageReceived(
        dedupe_key=f"inbound:{push_id}",
        provider_message_id=message_id,
        channel=Channel.SMS,
        sender=address(sender, receiver.default_region, field="<From>"),
        recipient=(
            address(recipient, receiver.default_region, field="<To>") if recipient else None
        ),
        body=child_text(root, "MessageText"),
        occurred_at=None,  # the push says nothing of when the message arrived
        metadata=_push_metadata(root, push_id),
    )


def parse_receipt(root: Element, kind: str, receiver: ReceiverContext) -> StatusReported:
    push_id = _required_text(root, "Id")
    # The seed labels this "{inbound-message-id}"; it is the id of our outbound message.
    message_id = _required_text(root, "MessageId")
    status = ESENDEX_RECEIPT_STATUSES[kind]
    metadata = _push_metadata(root, push_id)
    failure_reason: FailureReason | None = None
    if status is Status.FAILED:
        failure_reason = _failure_reason(root, metadata)
    return StatusReported(
        dedupe_key=f"receipt:{push_id}",
        provider_message_id=message_id,
        channel=Channel.SMS,
        status=status,
        provider_status=kind,
        failure_reason=failure_reason,
        occurred_at=_optional_time(root, "OccurredAt", receiver),
        metadata=metadata,
    )


def parse_opt_out(root: Element, receiver: ReceiverContext) -> OptOutReported:
    push_id = _required_text(root, "Id")
    phone_number = _address_text(root, "From")
    if not phone_number:
        raise PayloadRejected("missing required element <From><PhoneNumber> in <OptOut>")
    # The only public sample spells it <ReceviedAt>.
    received_field = "ReceviedAt" if child_text(root, "ReceviedAt") else "ReceivedAt"
    return OptOutReported(
        dedupe_key=f"optout:{push_id}",
        address=address(phone_number, receiver.default_region, field="<From>"),
        channel=Channel.SMS,
        occurred_at=_optional_time(root, received_field, receiver),
        source="provider",
    )


def _failure_reason(root: Element, metadata: dict[str, JSONValue]) -> FailureReason:
    reason = child_element(root, "FailureReason")
    if reason is None:
        return FailureReason.UNKNOWN
    code = child_text(reason, "Code")
    detail = child_text(reason, "Detail") or child_text(reason, "Description")
    permanent = child_text(reason, "PermanentFailure")
    if code:
        metadata["failure_code"] = code
    if detail:
        metadata["failure_detail"] = detail
    if permanent:
        metadata["permanent_failure"] = permanent
    return PERMANENT_FAILURE_REASONS.get((permanent or "").lower(), FailureReason.UNKNOWN)


def _address_text(root: Element, name: str) -> str | None:
    """``<From>4477…</From>``, or ``<From><PhoneNumber>4477…</PhoneNumber></From>`` (opt-outs)."""
    element = child_element(root, name)
    if element is None:
        return None
    return child_text(element, "PhoneNumber") or (element.text or "").strip() or None


def _push_metadata(root: Element, push_id: str) -> dict[str, JSONValue]:
    metadata: dict[str, JSONValue] = {"push_id": push_id}
    account_id = child_text(root, "AccountId")
    if account_id:
        metadata["account_id"] = account_id
    return metadata


def _required_text(root: Element, name: str) -> str:
    value = child_text(root, name)
    if not value:
        raise PayloadRejected(f"missing required element <{name}> in <{local_name(root.tag)}>")
    return value


def _optional_time(root: Element, name: str, receiver: ReceiverContext) -> datetime | None:
    value = child_text(root, name)
    if not value:
        return None
    # Documented as UTC without a zone; receiver.timezone is UTC unless the operator says not.
    return parse_timestamp(value, naive_zone=receiver.timezone, field=name)


PROVIDER = Provider(
    name="esendex",
    parse=parse,
    samples=(
        SamplePayload(
            description="Message Received (inbound SMS)",
            content_type="application/xml",
            body=b"""<?xml version="1.0" encoding="utf-8"?>
<InboundMessage>
 <Id>7a2f6c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b</Id>
 <MessageId>2b0e7d6c-5f4a-4b3c-9d2e-1f0a9b8c7d6e</MessageId>
 <AccountId>0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b</AccountId>
 <MessageText>Yes, see you at 3pm</MessageText>
 <From>447700900123</From>
 <To>447700900456</To>
</InboundMessage>""",
        ),
        SamplePayload(
            description="Message Delivered",
            content_type="application/xml",
            body=b"""<?xml version="1.0" encoding="utf-8"?>
<MessageDelivered>
 <Id>5c4b3a29-1807-4f6e-9d5c-4b3a29180706</Id>
 <MessageId>9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a</MessageId>
 <AccountId>0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b</AccountId>
 <OccurredAt>
  2024-03-01T10:15:30.1234567Z
 </OccurredAt>
</MessageDelivered>""",
        ),
        SamplePayload(
            description="Message Failed",
            content_type="application/xml",
            body=b"""<?xml version="1.0" encoding="utf-8"?>
<MessageFailed>
 <Id>1d2c3b4a-5968-4776-8594-a3b2c1d0e9f8</Id>
 <MessageId>3e4f5a6b-7c8d-4e9f-8a0b-1c2d3e4f5a6b</MessageId>
 <AccountId>0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b</AccountId>
 <OccurredAt>2024-03-01T10:16:02</OccurredAt>
</MessageFailed>""",
        ),
        SamplePayload(
            description="Opt-out",
            content_type="application/xml",
            body=b"""<?xml version="1.0" encoding="utf-8"?>
<OptOut>
 <Id>6f5e4d3c-2b1a-4098-8765-43210fedcba9</Id>
 <AccountId>0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b</AccountId>
 <AccountReference>EX0123456</AccountReference>
 <ReceviedAt>2024-03-01T11:00:00Z</ReceviedAt>
 <From>
  <PhoneNumber>447700900123</PhoneNumber>
 </From>
 <Link>https://api.esendex.com/v1.0/optouts/6f5e4d3c-2b1a-4098-8765-43210fedcba9</Link>
</OptOut>""",
        ),
    ),
    default_timezone="UTC",
    # A British provider: national numbers in its callbacks are UK numbers.
    default_region="GB",
)
