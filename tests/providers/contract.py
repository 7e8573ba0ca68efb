"""The provider contract: checks every registered provider must pass, whatever it is.

Each check takes a :class:`~callbox.providers.base.Provider` and knows nothing of any provider
in particular, so ``tests/providers/test_contract.py`` runs them over the registry
(``callbox.providers.PROVIDERS``) and a new provider is checked the moment it is registered.

- :func:`check_registration`: registered under its own name, sane defaults, has samples.
- :func:`check_samples_parse`: every documented sample parses to at least one event.
- :func:`check_junk_is_rejected`: random bytes and mutated samples either parse or raise
  :class:`~callbox.providers.base.PayloadRejected`, never any other exception.
- :func:`check_statuses_documented`: every status word the provider maps has a row in its
  section of docs/statuses.md (and every row there is mapped, to the status it says).
- :func:`check_samples_accepted_end_to_end`: every sample posted through the real app (on the
  test database) is answered 200 and stored with its events.
- :func:`check_signed_samples_end_to_end`: for a provider that signs with a shared secret,
  every sample signed with the receiver's key is accepted, and signed with another key is
  answered 401 and not stored.

The status words a provider maps are found by convention: the module-level mappings, in the
module that defines the provider's ``parse``, from a word to a
:class:`~callbox.model.vocabulary.Status` (or to a tuple starting with one).
"""

from __future__ import annotations

import inspect
import json
import random
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode
from xml.etree.ElementTree import Element, tostring

import asyncpg
import defusedxml.ElementTree as SafeElementTree
import phonenumbers

from callbox.model.vocabulary import FailureReason, Status
from callbox.providers import PROVIDERS
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    OptOutReported,
    Parsed,
    PayloadRejected,
    Provider,
    ReceiverContext,
    SamplePayload,
    SignedRequest,
    StatusReported,
)
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, Receiver
from tests.support import callbox_client, settings_for

STATUSES_DOC = Path(__file__).resolve().parents[2] / "docs" / "statuses.md"

RANDOM_CASES = 300
"""Random-bytes requests per provider (seeded: the same cases on every run)."""

# --- Reading samples as the app reads them --------------------------------------------------


def receiver_context(provider: Provider) -> ReceiverContext:
    """The context a receiver with no settings of its own gets: the provider's defaults."""
    return prepare_receiver(Receiver(name=provider.name, provider=provider.name), 0).context


def sample_request(sample: SamplePayload) -> InboundRequest:
    return request_for(sample.method, sample.content_type, sample.body, sample.query)


def request_for(method: str, content_type: str, body: bytes, query: str) -> InboundRequest:
    """The request a provider module sees, built by the ingest pipeline's own function."""
    return InboundRequest.from_stored(method, content_type, {}, body, query)


def parse_sample(provider: Provider, sample: SamplePayload) -> list[Parsed]:
    """What the provider finds in a sample: its events, and notes of what it does not apply
    (a sample must give events and no note: ``check_samples_parse``)."""
    return list(provider.parse(sample_request(sample), receiver_context(provider)))


# --- Registration and samples ----------------------------------------------------------------


def check_registration(provider: Provider) -> None:
    assert PROVIDERS.get(provider.name) is provider, (
        f"{provider.name}: not registered under its own name in callbox.providers.PROVIDERS"
    )
    assert provider.samples, f"{provider.name}: no samples (callbox send-sample needs some)"
    assert provider.default_region is None or (
        provider.default_region.upper() in phonenumbers.SUPPORTED_REGIONS
    ), f"{provider.name}: default_region {provider.default_region!r} is not a region"
    # Building the receiver context checks the default timezone and constructs the options.
    receiver_context(provider)
    for sample in provider.samples:
        assert sample.method in provider.methods, (
            f"{provider.name}: sample {sample.description!r} uses {sample.method}, "
            f"which the provider does not call back with ({sorted(provider.methods)})"
        )


def check_samples_parse(provider: Provider) -> None:
    for sample in provider.samples:
        try:
            events = parse_sample(provider, sample)
        except PayloadRejected as error:
            raise AssertionError(
                f"{provider.name}: sample {sample.description!r} rejected: {error.reason}"
            ) from None
        assert events, f"{provider.name}: sample {sample.description!r} gives no events"
        assert all(
            isinstance(event, MessageReceived | StatusReported | OptOutReported) for event in events
        ), f"{provider.name}: sample {sample.description!r} gives a non-event or a note: {events!r}"


# --- Junk: random bytes and mutated samples --------------------------------------------------

CONTENT_TYPES = (
    "",
    "application/json",
    "application/xml",
    "text/xml",
    "application/x-www-form-urlencoded",
    "text/plain",
)

# Inserted into samples at random places: bytes that mean something to some decoder.
JUNK: tuple[bytes, ...] = (
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"<",
    b">",
    b"</",
    b"<!--",
    b"]]>",
    b"&",
    b"&amp;",
    b"&#0;",
    b"&#x110000;",
    b"&undefined;",
    b"{",
    b"}",
    b"[",
    b"]",
    b'"',
    b":",
    b",",
    b"\\",
    b"\\u",
    b"\\ud800",
    b"=",
    b"%",
    b"%zz",
    b"%ff",
    b"+",
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"9" * 5000,
    b"0000-00-00 00:00:00",
    b"\xf0\x9f\x93\xb1",
    b" " * 50,
    b"[" * 100_000,
    b'{"a":' * 50_000,
    b"<a>" * 100_000,
)

# Substituted for each JSON value in turn (after deleting it): each type JSON has, and a few
# values a parser may trust too much.
JSON_VALUES: tuple[Any, ...] = (
    None,
    "",
    " ",
    0,
    -1,
    1.5,
    10**30,
    True,
    [],
    {},
    [None],
    {"": None},
    "x",
    "\u00b2",
    "\ud800",
    "0000-00-00 00:00:00",
    "9999-99-99T99:99:99Z",
    float("nan"),
    float("inf"),
)
HUGE_NUMBER = "9" * 5000
"""A JSON number Python refuses to convert (more than 4300 digits)."""

TEXT_VALUES: tuple[str, ...] = (
    "",
    " ",
    "x",
    "0",
    "-1",
    "1e400",
    "nan",
    "9" * 5000,
    "0000-00-00 00:00:00",
    "9999-99-99T99:99:99Z",
    "+",
    "\x00",
    "\U0001f4f1",
    "\u00b2",
)


@dataclass(frozen=True, slots=True)
class Case:
    """One junk request and how it was made, for the failure message."""

    how: str
    request: InboundRequest


def junk_cases(provider: Provider) -> Iterator[Case]:
    """Seeded random requests, then every sample mutated every way we know."""
    rng = random.Random(f"contract:{provider.name}")
    yield from random_cases(rng)
    for index, sample in enumerate(provider.samples):
        label = f"sample {index} ({sample.description})"
        yield from sample_mutations(sample, label, random.Random(f"{provider.name}:{index}"))


def random_cases(rng: random.Random) -> Iterator[Case]:
    prefixes = (b"", b"{", b"<", b"[", b"<?xml version='1.0'?><", b"id=", b'{"batch":[')
    for number in range(RANDOM_CASES):
        body = rng.choice(prefixes) + rng.randbytes(rng.randrange(0, 200))
        content_type = rng.choice(CONTENT_TYPES)
        if number % 10 == 0:
            query = urlencode({rng.choice(("id", "type", "status", "x")): rng.randbytes(8)})
            yield Case(f"random GET {number}", request_for("GET", "", b"", query))
        else:
            yield Case(f"random POST {number}", request_for("POST", content_type, body, ""))


def sample_mutations(sample: SamplePayload, label: str, rng: random.Random) -> Iterator[Case]:
    def body_case(how: str, body: bytes) -> Case:
        request = request_for(sample.method, sample.content_type, body, sample.query)
        return Case(f"{label}: {how}", request)

    def query_case(how: str, query: str) -> Case:
        return Case(f"{label}: {how}", request_for(sample.method, "", sample.body, query))

    if sample.body:
        yield from (body_case(how, body) for how, body in byte_mutations(sample.body, rng))
        for how, body in structured_mutations(sample.body, sample.content_type):
            yield body_case(how, body)
        for content_type in CONTENT_TYPES:
            request = request_for(sample.method, content_type, sample.body, sample.query)
            yield Case(f"{label}: sent as {content_type!r}", request)
    if sample.query:
        encoded = sample.query.encode()
        for how, query in byte_mutations(encoded, rng):
            yield query_case(f"query {how}", query.decode("latin-1"))
        for how, query in form_mutations(encoded):
            yield query_case(f"query {how}", query.decode("latin-1"))


def byte_mutations(data: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    size = len(data)
    for cut in sorted({0, 1, size - 1, *(size * step // 16 for step in range(1, 16))}):
        yield f"truncated to {cut} bytes", data[:cut]
    for _ in range(60):
        at = rng.randrange(size)
        flipped = data[at] ^ rng.randrange(1, 256)
        yield f"byte {at} flipped to {flipped:#04x}", data[:at] + bytes([flipped]) + data[at + 1 :]
    for junk in JUNK:
        for at in (0, size, *(rng.randrange(size + 1) for _ in range(3))):
            yield f"{junk[:12]!r} inserted at {at}", data[:at] + junk + data[at:]


def structured_mutations(body: bytes, content_type: str) -> Iterator[tuple[str, bytes]]:
    stripped = body.lstrip()
    if content_type.endswith("json") or stripped[:1] in (b"{", b"["):
        yield from json_mutations(body)
    elif content_type.endswith("xml") or stripped[:1] == b"<":
        yield from xml_mutations(body)
    else:
        yield from form_mutations(body)


def json_mutations(body: bytes) -> Iterator[tuple[str, bytes]]:
    document = json.loads(body)
    for path in json_paths(document):
        yield (
            f"JSON {path} deleted",
            json.dumps(json_edit(document, path, None, delete=True)).encode(),
        )
        for value in JSON_VALUES:
            edited = json_edit(document, path, value)
            yield f"JSON {path} = {value!r:.20}", json.dumps(edited).encode()
        marked = json.dumps(json_edit(document, path, "\x00huge\x00"))
        yield (
            f"JSON {path} = huge number",
            marked.replace('"\\u0000huge\\u0000"', HUGE_NUMBER).encode(),
        )
    for value in JSON_VALUES:
        yield f"JSON document = {value!r:.20}", json.dumps(value).encode()
    yield "JSON document wrapped in an array", json.dumps([document]).encode()


JSONPath = tuple[str | int, ...]


def json_paths(value: Any, path: JSONPath = ()) -> Iterator[JSONPath]:
    if isinstance(value, dict):
        items: Iterator[tuple[str | int, Any]] = iter(value.items())
    elif isinstance(value, list):
        items = iter(enumerate(value))
    else:
        return
    for key, child in items:
        yield (*path, key)
        yield from json_paths(child, (*path, key))


def json_edit(document: Any, path: JSONPath, value: Any, *, delete: bool = False) -> Any:
    copy = json.loads(json.dumps(document))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return copy


def xml_mutations(body: bytes) -> Iterator[tuple[str, bytes]]:
    root = SafeElementTree.fromstring(body)
    for index, (_, child) in enumerate(xml_children(root)):
        where = f"<{child.tag}> (element {index})"
        yield f"XML {where} deleted", xml_edit(root, index, lambda p, c: p.remove(c))
        for text in TEXT_VALUES:

            def set_text(_: Element, element: Element, text: str = text) -> None:
                element.text = text
                for grandchild in list(element):
                    element.remove(grandchild)

            yield f"XML {where} text = {text!r:.20}", xml_edit(root, index, set_text)
    yield "XML root emptied", b"<" + root.tag.encode() + b"/>"
    yield "XML root renamed", tostring(root).replace(root.tag.encode(), b"Unknown", 1)


def xml_children(root: Element) -> list[tuple[Element, Element]]:
    return [(parent, child) for parent in root.iter() for child in parent]


def xml_edit(root: Element, index: int, edit: Callable[[Element, Element], None]) -> bytes:
    copy = SafeElementTree.fromstring(tostring(root))
    parent, child = xml_children(copy)[index]
    edit(parent, child)
    return tostring(copy)


def form_mutations(body: bytes) -> Iterator[tuple[str, bytes]]:
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        return
    for index, (key, _) in enumerate(pairs):
        rest = pairs[:index] + pairs[index + 1 :]
        yield f"form field {key!r} deleted", urlencode(rest).encode()
        for text in TEXT_VALUES:
            edited = [*pairs[:index], (key, text), *pairs[index + 1 :]]
            yield f"form field {key!r} = {text!r:.20}", urlencode(edited).encode()
        yield f"form field {key!r} repeated", urlencode([*pairs, (key, "x")]).encode()


def check_junk_is_rejected(provider: Provider) -> None:
    """Junk may parse (a mutation can be harmless) or be rejected, but nothing else."""
    receiver = receiver_context(provider)
    escaped: list[str] = []
    for case in junk_cases(provider):
        try:
            provider.parse(case.request, receiver)
        except PayloadRejected as error:
            if not (isinstance(error.reason, str) and error.reason.strip()):
                escaped.append(f"{case.how}: PayloadRejected without a reason")
        except Exception as error:
            escaped.append(f"{case.how}: {type(error).__name__}: {error!s:.200}")
    assert not escaped, (
        f"{provider.name}: {len(escaped)} junk requests raised something other than "
        "PayloadRejected:\n" + "\n".join(escaped[:20])
    )


# --- Status words and docs/statuses.md -------------------------------------------------------


def _status_of(value: object) -> Status | None:
    if isinstance(value, Status):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], Status):
        return value[0]
    return None


def mapped_statuses(provider: Provider) -> dict[str, tuple[Status, FailureReason | None]]:
    """Every status word the provider maps, from the module that defines its parser."""
    module = inspect.getmodule(provider.parse)
    assert module is not None, f"{provider.name}: cannot find the module of its parse function"
    mapped: dict[str, tuple[Status, FailureReason | None]] = {}
    for value in vars(module).values():
        if not (isinstance(value, Mapping) and value):
            continue
        if not all(isinstance(word, str) and _status_of(v) for word, v in value.items()):
            continue
        for word, target in value.items():
            reason = target[1] if isinstance(target, tuple) and len(target) > 1 else None
            mapped[word] = (_status_of(target) or Status.UNKNOWN, reason)
    return mapped


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def docs_section(doc: str, provider_name: str) -> str:
    """The ``## `` section whose heading contains the provider's name (case and punctuation
    ignored: ``notify`` is "GOV.UK Notify (and forks)", ``urlnet`` is "url.net.au")."""
    sections = re.split(r"^(?=## )", doc, flags=re.MULTILINE)
    found = [
        section
        for section in sections
        if section.startswith("## ") and _squash(provider_name) in _squash(section.splitlines()[0])
    ]
    assert len(found) == 1, (
        f"{provider_name}: docs/statuses.md needs exactly one '## ' section whose heading names "
        f"the provider; found {len(found)}"
    )
    return found[0]


@dataclass(frozen=True, slots=True)
class DocumentedStatus:
    first_cell: str
    status: str
    reason: str


def documented_rows(section: str) -> list[DocumentedStatus]:
    """Rows of the section's "provider value | Callbox status | failure reason" table."""
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.lstrip().startswith("|") and len(cells) >= 3 and not cells[0].startswith("---"):
            rows.append(DocumentedStatus(cells[0], cells[1], cells[2]))
    return rows


_SINGLE_WORD = re.compile(r"`([^`]+)`(?: \([^)]*\))?")


def check_statuses_documented(provider: Provider, doc: str | None = None) -> None:
    """Every mapped word has a row in the provider's section (its first cell starting with
    the word in backticks); every row that is just a word (with an optional note such as
    "(SMS)") and a Callbox status other than RECEIVED is a mapped word, mapped as documented;
    and every status a sample reports is a mapped word, so the mapping was found at all."""
    text = STATUSES_DOC.read_text() if doc is None else doc
    section = docs_section(text, provider.name)
    mapped = mapped_statuses(provider)
    rows = documented_rows(section)
    undocumented = [
        word for word in mapped if not any(row.first_cell.startswith(f"`{word}`") for row in rows)
    ]
    assert not undocumented, (
        f"{provider.name}: status words mapped but not in docs/statuses.md: {undocumented}"
    )
    wrong = []
    for row in rows:
        match = _SINGLE_WORD.fullmatch(row.first_cell)
        if match is None or row.status not in Status.__members__ or row.status == "RECEIVED":
            continue
        word = match.group(1)
        if word not in mapped:
            wrong.append(f"{word}: documented but not mapped")
            continue
        status, reason = mapped[word]
        if (row.status, row.reason or None) != (status.name, reason.name if reason else None):
            wrong.append(f"{word}: documented {row.status} {row.reason}, mapped {status} {reason}")
    assert not wrong, f"{provider.name}: docs/statuses.md disagrees with the mapping: {wrong}"
    folded = {word.lower() for word in mapped}
    unmapped = sorted(
        {
            event.provider_status
            for sample in provider.samples
            for event in parse_sample(provider, sample)
            if isinstance(event, StatusReported) and event.provider_status.lower() not in folded
        }
    )
    assert not unmapped, (
        f"{provider.name}: samples report statuses no module-level status mapping in "
        f"{provider.parse.__module__} holds: {unmapped}"
    )


# --- End to end through the app ----------------------------------------------------------------


async def check_samples_accepted_end_to_end(
    provider: Provider, database_url: str, db: asyncpg.Connection
) -> None:
    """Each sample posted to a receiver with the provider's defaults: 200, stored ACCEPTED,
    with the events the parser gives, each applied under its dedupe key."""
    receiver = Receiver(name=provider.name, provider=provider.name)
    async with callbox_client(settings_for(database_url, [receiver])) as client:
        for sample in provider.samples:
            url = f"/hooks/{provider.name}" + (f"?{sample.query}" if sample.query else "")
            headers = {"Content-Type": sample.content_type} if sample.body else {}
            response = await client.request(
                sample.method, url, content=sample.body or None, headers=headers
            )
            assert response.status_code == 200, (
                f"{provider.name}: sample {sample.description!r}: {response.status_code} "
                f"{response.text}"
            )
    rows = await db.fetch(
        "SELECT n.id, n.state, n.body, n.query_string, n.event_count,"
        " array_remove(array_agg(a.dedupe_key ORDER BY a.dedupe_key), NULL) AS keys"
        " FROM callbox_notification n LEFT JOIN callbox_applied_event a ON a.notification = n.id"
        " WHERE n.receiver = $1 GROUP BY n.id ORDER BY n.id",
        provider.name,
    )
    assert len(rows) == len(provider.samples), f"{provider.name}: {len(rows)} requests stored"
    for sample, row in zip(provider.samples, rows, strict=True):
        events = parse_sample(provider, sample)
        stored = (row["state"], bytes(row["body"] or b""), row["query_string"], row["event_count"])
        assert stored == ("ACCEPTED", sample.body, sample.query, len(events)), (
            f"{provider.name}: sample {sample.description!r} stored as {stored}"
        )
        assert row["keys"] == sorted(event.dedupe_key for event in events), (
            f"{provider.name}: sample {sample.description!r} applied {row['keys']}"
        )


CONTRACT_KEY = "contract-test-signing-key-0123456789"
OTHER_KEY = "another-signing-key-that-is-not-it-987"


def signed_receiver(provider: Provider) -> Receiver:
    """A receiver that verifies the provider's signatures with :data:`CONTRACT_KEY`."""
    scheme = provider.signature
    assert scheme is not None
    public_url = f"https://callbox.example.test/hooks/{provider.name}"
    return Receiver(
        name=provider.name,
        provider=provider.name,
        auth=Auth(signature=[CONTRACT_KEY]),
        public_url=public_url if scheme.needs_public_url else None,
    )


def signed_sample(provider: Provider, sample: SamplePayload, key: str) -> SignedRequest:
    """The sample as the provider would send it, signed with ``key``."""
    scheme = provider.signature
    assert scheme is not None and scheme.sign is not None
    context = receiver_context(provider)
    query = f"?{sample.query}" if sample.query else ""
    unsigned = SignedRequest(
        method=sample.method,
        url=f"https://callbox.example.test/hooks/{provider.name}{query}",
        headers={"content-type": sample.content_type} if sample.body else {},
        query_string=sample.query,
        body=sample.body,
        content_type=sample.content_type.split(";", 1)[0].strip().lower(),
    )
    return scheme.sign(unsigned, key, context, datetime.now(UTC))


async def check_signed_samples_end_to_end(
    provider: Provider, database_url: str, db: asyncpg.Connection
) -> None:
    """For a provider that signs (and can sign with a shared secret): each sample signed with
    the receiver's key is answered 200 and stored; signed with another key, 401 with a reason
    and nothing stored."""
    receiver = signed_receiver(provider)
    async with callbox_client(settings_for(database_url, [receiver])) as client:

        async def post(request: SignedRequest) -> tuple[int, str]:
            url = f"/hooks/{provider.name}" + (
                f"?{request.query_string}" if request.query_string else ""
            )
            response = await client.request(
                request.method, url, content=request.body or None, headers=dict(request.headers)
            )
            return response.status_code, response.text

        for sample in provider.samples:
            forged = await post(signed_sample(provider, sample, OTHER_KEY))
            assert forged[0] == 401 and forged[1], (
                f"{provider.name}: sample {sample.description!r} signed with another key: {forged}"
            )
        assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0, (
            f"{provider.name}: a forged request was stored"
        )
        for sample in provider.samples:
            answer = await post(signed_sample(provider, sample, CONTRACT_KEY))
            assert answer[0] == 200, f"{provider.name}: sample {sample.description!r}: {answer}"
    stored = await db.fetchval("SELECT count(*) FROM callbox_notification")
    assert stored == len(provider.samples), f"{provider.name}: {stored} requests stored"
