"""Property-based: every registered provider's parser gives events or PayloadRejected, nothing else.

Run over ``callbox.providers.PROVIDERS`` like the contract (test ids are the provider names),
with hypothesis generating:

- arbitrary bytes, under each content type and method the provider accepts;
- its samples mutated structure-aware: a JSON value (or the whole document) replaced by any
  JSON (huge integers, NaN and infinities, deep nesting, odd Unicode, lone surrogates), a form
  or query field replaced, deleted or repeated, an XML element's text or name replaced, an
  element deleted, or the XML declaration's encoding changed;
- the receiver's timezone, from the far west to the far east (naive times overflow there).

What a parse gives must also survive :func:`callbox.store.apply.encode_events`, as it does
in the ingest pipeline: the same rule, PayloadRejected or nothing.

Deterministic (``derandomize``) and bounded: ``MAX_EXAMPLES`` per provider and strategy, no
example database, no deadline (a slow CI machine must not make it flaky).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote_from_bytes
from xml.etree.ElementTree import Element, tostring
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeElementTree
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callbox.model.addresses import MAX_ADDRESS_LENGTH
from callbox.providers import PROVIDERS
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    Provider,
    ReceiverContext,
    SamplePayload,
    StatusReported,
    split_notes,
)
from callbox.providers.bounds import check_bounds
from callbox.store.apply import encode_events
from tests.providers.contract import CONTENT_TYPES, receiver_context, request_for

MAX_EXAMPLES = 200

PROPERTY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

TIMEZONES = ("UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Europe/Paris", "Australia/Melbourne")


def registered() -> list[Provider]:
    return list(PROVIDERS.values())


def check_parse(provider: Provider, request: InboundRequest, receiver: ReceiverContext) -> None:
    """The property: events (that the store can encode) and notes of what is not applied (text
    the store can keep), or PayloadRejected with a reason; checked as the pipeline does
    (``ReadyReceiver.parse`` bounds them)."""
    try:
        parsed = list(provider.parse(request, receiver))
        check_bounds(parsed)
        events, note = split_notes(parsed)
        encode_events(events)
    except PayloadRejected as rejection:
        assert isinstance(rejection.reason, str) and rejection.reason.strip()
        return
    if note is not None:
        assert note.strip() and "\x00" not in note
        msgspec.json.encode(note)  # as the ingest writer sends it
    for event in events:
        assert isinstance(event, MessageReceived | StatusReported | OptOutReported)
        assert isinstance(event.dedupe_key, str) and event.dedupe_key
        if isinstance(event, OptOutReported):
            addresses = [event.address]
        else:
            addresses = [event.sender, event.recipient]
        for address in addresses:
            assert address is None or len(address) <= MAX_ADDRESS_LENGTH


def receivers(provider: Provider) -> st.SearchStrategy[ReceiverContext]:
    base = receiver_context(provider)
    return st.sampled_from(TIMEZONES).map(
        lambda name: dataclasses.replace(base, timezone=ZoneInfo(name))
    )


# --- Values ---------------------------------------------------------------------------------

ODD_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(categories=["Cs", "Cc", "Cf", "Mn", "Zs", "Nd", "No"]), max_size=20),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u00b2",
            "\u0663",
            "nan",
            "inf",
            "1e999999",
            "-0",
            "0000-00-00 00:00:00",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "0001-01-01 00:00:00",
            "9999-12-31 23:59:59",
            "+" + "4" * 30,
            "4" * 300,
            "a@" + "b" * 300,
            "x" * 3000,
        ]
    ),
)

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    ODD_TEXT,
)

JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def json_texts(draw: st.DrawFn) -> str:
    """JSON text for one value, including what json.dumps cannot write."""
    kind = draw(st.sampled_from(("value", "huge", "deep", "special")))
    if kind == "huge":
        return draw(st.sampled_from(("", "-"))) + "9" * draw(st.integers(1, 6000))
    if kind == "deep":
        depth = draw(st.integers(1, 100_000))
        opener, closer = draw(st.sampled_from((("[", "]"), ('{"a":', "}"))))
        return opener * depth + "1" + closer * depth
    if kind == "special":
        return draw(
            st.sampled_from(("NaN", "Infinity", "-Infinity", "1e999999", '"\\ud800"', "-0.0"))
        )
    return json.dumps(draw(JSON_VALUES))


# --- Mutations ------------------------------------------------------------------------------

_MARKER = "\x00callbox-marker\x00"
_MARKER_JSON = json.dumps(_MARKER)

JSONPath = tuple[str | int, ...]


def json_paths(value: Any, path: JSONPath = ()) -> list[JSONPath]:
    if isinstance(value, dict):
        items: list[tuple[str | int, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    paths: list[JSONPath] = []
    for key, child in items:
        paths.append((*path, key))
        paths.extend(json_paths(child, (*path, key)))
    return paths


@st.composite
def mutated_json(draw: st.DrawFn, body: bytes) -> bytes:
    document = json.loads(body)
    paths = json_paths(document)
    replacement = draw(json_texts())
    if not paths or draw(st.integers(0, 9)) == 0:
        return replacement.encode("utf-8", "surrogatepass")
    edits = draw(st.integers(1, 3))
    copy = json.loads(json.dumps(document))
    for _ in range(edits):
        path = draw(st.sampled_from(json_paths(copy) or [()]))
        if not path:
            break
        parent = copy
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = _MARKER
    text = json.dumps(copy).replace(_MARKER_JSON, replacement)
    return text.encode("utf-8", "surrogatepass")


FORM_VALUES = st.one_of(
    ODD_TEXT.map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
)


@st.composite
def mutated_form(draw: st.DrawFn, encoded: bytes) -> bytes:
    pairs = parse_qsl(encoded.decode("utf-8"), keep_blank_values=True)
    fields = [(key.encode(), value.encode()) for key, value in pairs]
    for _ in range(draw(st.integers(1, 3))):
        action = draw(st.sampled_from(("replace", "delete", "repeat", "add")))
        if action == "add" or not fields:
            key = draw(st.sampled_from([k for k, _ in fields] + [b"x", b"ID", b"type"]))
            fields.append((key, draw(FORM_VALUES)))
            continue
        index = draw(st.integers(0, len(fields) - 1))
        key = fields[index][0]
        if action == "delete":
            del fields[index]
        elif action == "repeat":
            fields.append((key, draw(FORM_VALUES)))
        else:
            fields[index] = (key, draw(FORM_VALUES))
    return b"&".join(
        quote_from_bytes(key).encode() + b"=" + quote_from_bytes(value).encode()
        for key, value in fields
    )


XML_ENCODINGS = st.one_of(
    st.sampled_from(
        ("utf-8", "UTF-8", "latin-1", "utf-16", "utf-32", "utf-7", "x-nope", "rot13", "idna")
    ),
    st.text(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters='"'), max_size=12
    ),
)


def _xml_elements(root: Element) -> list[tuple[Element | None, Element]]:
    found: list[tuple[Element | None, Element]] = [(None, root)]
    found.extend((parent, child) for parent in root.iter() for child in parent)
    return found


@st.composite
def mutated_xml(draw: st.DrawFn, body: bytes) -> bytes:
    root = SafeElementTree.fromstring(body)
    for _ in range(draw(st.integers(1, 3))):
        elements = _xml_elements(root)
        parent, element = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(("text", "delete", "rename", "attribute", "empty", "copy")))
        if action == "delete" and parent is not None:
            parent.remove(element)
        elif action == "rename":
            element.tag = draw(st.sampled_from(("batch", "Unknown", "id", "x", element.tag)))
        elif action == "attribute":
            element.set(draw(st.sampled_from(("id", "x"))), draw(ODD_TEXT))
        elif action == "empty":
            for child in list(element):
                element.remove(child)
        elif action == "copy" and parent is not None:
            parent.append(element)
        else:
            element.text = draw(ODD_TEXT)
    try:
        text = tostring(root, encoding="unicode")
    except ValueError:
        text = "<a/>"
    declaration = ""
    if draw(st.booleans()):
        declaration = f'<?xml version="1.0" encoding="{draw(XML_ENCODINGS)}"?>'
    return (declaration + text).encode("utf-8", "surrogatepass")


def sample_kind(sample: SamplePayload) -> str:
    stripped = sample.body.lstrip()
    if not sample.body:
        return "query"
    if sample.content_type.endswith("json") or stripped[:1] in (b"{", b"["):
        return "json"
    if sample.content_type.endswith("xml") or stripped[:1] == b"<":
        return "xml"
    return "form"


@st.composite
def mutated_samples(draw: st.DrawFn, provider: Provider) -> InboundRequest:
    sample = draw(st.sampled_from(list(provider.samples)))
    kind = sample_kind(sample)
    mutate: Callable[[bytes], st.SearchStrategy[bytes]] = {
        "json": mutated_json,
        "xml": mutated_xml,
        "form": mutated_form,
        "query": mutated_form,
    }[kind]
    content_type = draw(st.one_of(st.just(sample.content_type), st.sampled_from(CONTENT_TYPES)))
    if kind == "query":
        query = draw(mutate(sample.query.encode())).decode("latin-1")
        return request_for(sample.method, "", b"", query)
    body = draw(mutate(sample.body))
    return request_for(sample.method, content_type, body, sample.query)


@st.composite
def arbitrary_requests(draw: st.DrawFn, provider: Provider) -> InboundRequest:
    method = draw(st.sampled_from(sorted(provider.methods)))
    prefix = draw(st.sampled_from((b"", b"{", b"<", b"[", b"<?xml version='1.0'?><", b"id=")))
    body = prefix + draw(st.binary(max_size=300))
    query = ""
    if draw(st.booleans()):
        fields = draw(st.dictionaries(st.sampled_from(("id", "type", "status", "x")), FORM_VALUES))
        query = "&".join(f"{key}={quote_from_bytes(value)}" for key, value in fields.items())
    return request_for(method, draw(st.sampled_from(CONTENT_TYPES)), body, query)


# --- The tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", registered(), ids=lambda provider: provider.name)
def test_arbitrary_bytes_give_events_or_a_rejection(provider: Provider) -> None:
    @PROPERTY_SETTINGS
    @given(request=arbitrary_requests(provider), receiver=receivers(provider))
    def property_holds(request: InboundRequest, receiver: ReceiverContext) -> None:
        check_parse(provider, request, receiver)

    property_holds()


@pytest.mark.parametrize("provider", registered(), ids=lambda provider: provider.name)
def test_mutated_samples_give_events_or_a_rejection(provider: Provider) -> None:
    @PROPERTY_SETTINGS
    @given(request=mutated_samples(provider), receiver=receivers(provider))
    def property_holds(request: InboundRequest, receiver: ReceiverContext) -> None:
        check_parse(provider, request, receiver)

    property_holds()
