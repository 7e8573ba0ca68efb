"""The provider contract: a pure parse function from a request to normalised events, and
for providers that sign their callbacks, a pure verification of the signature.

A provider module turns one HTTP request into a list of events. It does no I/O: it never
touches the database, the network or the clock, so it is tested with literals alone. It
raises :class:`PayloadRejected` with a reason naming the problem when the payload cannot be
understood; the pipeline stores the raw request as rejected and answers 400 with that reason.
What a well-formed request says but names nothing Callbox can apply (an event without the
message it is about) is not an error: the module returns a :class:`NotApplied` note beside
the events (or alone), the request is accepted and the note is kept as its ``reason``.

A provider that signs its callbacks registers a :class:`SignatureScheme`: ``verify`` gets the
request exactly as the provider sent it (:class:`SignedRequest`: raw body, raw query, every
header, the URL as the provider sees it), the receiver's keys and the time, and raises
:class:`SignatureRejected` with a plain reason; the receiver answers 401 and stores nothing.
It runs before anything is stored, only for receivers that list ``auth.signature`` keys.

Two optional steps serve schemes whose key material is on the network (Amazon SNS names the
certificate it signed with in each message): ``fetch_keys`` gets it through the app's
:class:`Fetcher` before ``verify`` runs, and ``after_accepted`` does what the provider expects
once a verified request is stored (SNS: visit the subscription's confirmation link). Either
raises :class:`Unreachable` when the network fails it now: the receiver answers 503 with
``Retry-After`` (the provider retries), never 401 and never an unverified acceptance.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import msgspec

from callbox.model.vocabulary import BounceType, Channel, FailureReason, ReportKind, Status

JSONValue = Any
"""A value that survives a JSON round trip (metadata is stored as JSONB)."""


class PayloadRejected(Exception):
    """The payload cannot be turned into events; ``reason`` says why, for the 400 answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureRejected(Exception):
    """The request's signature does not verify; ``reason`` says why, for the 401 answer
    ("signature does not match", "timestamp outside the 300 s window")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


UNREACHABLE_RETRY_AFTER_SECONDS = 30
"""``Retry-After`` of a 503 for key material or a follow-up the network failed us on."""


class Unreachable(Exception):
    """Something a signature scheme needs from the network cannot be had now (a timeout, a
    refused connection, the server's own error): answered 503 with ``Retry-After``, since the
    provider retries; never 401, and the request is never accepted unverified. ``reason``
    names what and why (a host, never a URL's query: it may hold a token)."""

    def __init__(self, reason: str, retry_after: int = UNREACHABLE_RETRY_AFTER_SECONDS) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Fetched:
    """The answer to a GET the app made for a signature scheme."""

    status_code: int
    body: bytes


class Fetcher(Protocol):
    """HTTPS GETs a signature scheme asks the app for (``callbox.ingest.fetcher``): TLS
    verified, a short time limit, no redirects followed, a bounded body."""

    async def get(self, url: str, *, cache: bool = False) -> Fetched:
        """The answer to ``GET url`` (an ``https://`` URL), whatever its status; with
        ``cache``, a 200 answer is kept and given again for the same URL without asking.

        Raises:
            Unreachable: no answer (timeout, network, TLS), or a body over the limit.
        """
        ...


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """An HTTP request exactly as the provider sent it, for signature verification."""

    method: str
    url: str
    """The URL as the provider sees it: the receiver's ``public_url`` (the one configured at
    the provider), the rest of the path (a URL token), and ``?`` + the raw query when there
    is one. Empty when the receiver has no ``public_url``. Never built from the Host header."""
    headers: Mapping[str, str]
    """Lower-cased names; a header sent on several lines has its values joined by ``, ``."""
    query_string: str
    """Raw, as received (percent-encoded, in the provider's order, repeated keys kept)."""
    body: bytes
    content_type: str
    """Media type, lower-cased, without parameters; may be empty."""

    def query_params(self) -> list[tuple[str, str]]:
        """Every query parameter, in order, repeated keys kept."""
        return parse_qsl(self.query_string, keep_blank_values=True)

    def form_params(self) -> list[tuple[str, str]]:
        """Every form parameter of a form-encoded body, in order, repeated keys kept (none
        for another content type or a body that is not form-encoded text)."""
        if self.content_type != "application/x-www-form-urlencoded":
            return []
        try:
            return parse_qsl(self.body.decode(), keep_blank_values=True)
        except UnicodeDecodeError:
            return []


SignatureKey = Any
"""A key as the provider's ``load_key`` made it (an HMAC secret as bytes, a public key
object...). HMAC secrets are held in memory only: never logged, never stored."""


@dataclass(frozen=True, slots=True)
class SignatureScheme:
    """How a provider signs its callbacks.

    ``verify(request, keys, context, now)`` returns when the signature verifies with any one
    of ``keys`` (rotation) and raises :class:`SignatureRejected` otherwise; it must compare
    in constant time (``hmac.compare_digest``) and enforce the replay window where the scheme
    has a timestamp. ``sign(request, key, context, now)`` returns the request as the provider
    would send it signed with ``key`` (for ``callbox send-sample`` and tests); schemes whose
    keys are public keys cannot sign and leave it ``None``.
    """

    verify: Callable[[SignedRequest, Sequence[SignatureKey], ReceiverContext, datetime], None]
    sign: Callable[[SignedRequest, str, ReceiverContext, datetime], SignedRequest] | None
    key_kind: str = "HMAC secret"
    """What a key is, in the provider's words (for config errors and docs)."""
    load_key: Callable[[str], SignatureKey] = lambda text: text.encode()
    """The configured text made a key; raises ``ValueError`` naming the problem."""
    needs_public_url: bool = False
    """The URL is signed: the receiver must configure ``public_url``."""
    fetch_keys: (
        Callable[
            [SignedRequest, Sequence[SignatureKey], ReceiverContext, Fetcher],
            Awaitable[Sequence[SignatureKey]],
        ]
        | None
    ) = None
    """For key material the request names and the app fetches (Amazon SNS: the certificate
    at ``SigningCertURL``): gets the configured keys and returns the keys ``verify`` gets.
    Raises :class:`SignatureRejected` (401: a foreign host, a topic not configured...) or
    :class:`Unreachable` (503: the key material cannot be fetched now)."""
    after_accepted: (
        Callable[
            [SignedRequest, Sequence[SignatureKey], ReceiverContext, Fetcher],
            Awaitable[str | None],
        ]
        | None
    ) = None
    """A follow-up the provider expects once a verified request is stored, with the keys
    ``verify`` used (Amazon SNS: visit ``SubscribeURL`` to confirm a subscription); returns
    a line for the log or ``None``. Raises :class:`Unreachable` (503; the stored request is
    kept, and the provider's retry is stored again and followed up again)."""


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """What a provider module sees of an HTTP request."""

    method: str
    body: bytes
    content_type: str
    """Media type, lower-cased, without parameters (``application/json``); may be empty."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Lower-cased header names."""
    query: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_stored(
        cls,
        method: str,
        content_type: str | None,
        headers: Mapping[str, str],
        body: bytes | None,
        query_string: str,
    ) -> InboundRequest:
        """The request as a provider module sees it, from what a raw request keeps."""
        media_type = (content_type or "").split(";", 1)[0].strip().lower()
        return cls(
            method=method,
            body=body or b"",
            content_type=media_type,
            headers=headers,
            query=dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {},
        )


class NoOptions(msgspec.Struct, forbid_unknown_fields=True):
    """A provider that takes no options of its own."""


@dataclass(frozen=True, slots=True)
class ReceiverContext:
    """The receiver's settings a provider module may use while parsing."""

    name: str
    default_region: str | None = None
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    our_address: str | None = None
    options: msgspec.Struct = field(default_factory=NoOptions)


@dataclass(frozen=True, slots=True)
class MessagePart:
    """Where an inbound message fits when the provider delivers a long one in several parts
    (one callback each, in any order): the store keeps each part until all ``count`` parts
    of ``group`` are in, then joins their texts in ``number`` order into one message, named
    by part 1's ``provider_message_id``."""

    group: str
    """Names the long message among the receiver's (e.g. sender, recipient and reference)."""
    number: int
    """1 to ``count``."""
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageReceived:
    """An inbound message (SMS, e-mail, call) from another party to us."""

    dedupe_key: str
    provider_message_id: str
    channel: Channel
    sender: str
    recipient: str | None
    body: str | None
    occurred_at: datetime | None
    provider_status: str | None = None
    in_reply_to: str | None = None
    """The provider's id of our outbound message this one answers, when the provider says."""
    metadata: Mapping[str, JSONValue] = field(default_factory=dict)
    is_test: bool = False
    part: MessagePart | None = None
    """Set when this is one part of a longer message: the message appears once every part
    is in (nothing is shown, and nothing is lost, before then)."""
    subject: str | None = None
    """E-mail: the subject line (``body`` is the text)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusReported:
    """A report about an outbound message: a delivery receipt, or with another ``kind`` a
    deferral, an open, a click, a complaint, an unsubscribe.

    Only ``kind=STATUS`` may change the message's status (by precedence); any other kind is
    kept in the message's history and leaves its status as it is. For those, ``status`` is
    what the report implies (DELIVERED for an open, SENT for a deferral): the status of a
    message first known from it, until a provider reports one (docs/statuses.md, "E-mail").
    """

    dedupe_key: str
    provider_message_id: str
    channel: Channel
    status: Status
    provider_status: str
    failure_reason: FailureReason | None
    occurred_at: datetime | None
    recipient: str | None = None
    sender: str | None = None
    body: str | None = None
    reference: str | None = None
    created_at: datetime | None = None
    sent_at: datetime | None = None
    metadata: Mapping[str, JSONValue] = field(default_factory=dict)
    is_test: bool = False
    kind: ReportKind = ReportKind.STATUS
    bounce_type: BounceType | None = None
    """When the report is a bounce: what kind (a hard bounce also has ``FAILED``)."""
    detail: str | None = None
    """What the provider said of it, kept with the report: an SMTP answer, a rejection's
    reason, the link clicked."""
    subject: str | None = None
    """E-mail: the subject line of the message, when the report carries it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OptOutReported:
    """An address opting out of (or, with ``opted_in``, back into) messages from us."""

    dedupe_key: str
    address: str | None
    """The address; ``None`` only when the provider names the message but not the address
    (Postmark's unsubscribe bounces): the ledger then takes the recipient of the outbound
    message ``provider_message_id`` names, and records nothing when that is not known."""
    channel: Channel
    occurred_at: datetime | None
    source: str
    """What told us (``OptOutSource``): ``provider`` (an opt-out push), ``keyword``,
    ``status``, ``complaint``, ``unsubscribe``, ``suppression``."""
    opted_in: bool = False
    provider_message_id: str | None = None
    text: str | None = None


Event = MessageReceived | StatusReported | OptOutReported


@dataclass(frozen=True, slots=True)
class NotApplied:
    """What an authentic, well-formed request says that Callbox does not apply, and why:
    an event that names no message (a Mailgun event without a Message-ID), a report of
    counts that names nobody (a Sinch summary report).

    Not an error: the request is accepted (200, so the provider does not retry what a retry
    would not change) and kept whole in its raw request, with ``note`` as the
    notification's ``reason``. Given beside the events that do apply, or alone (the request
    then has no events). A payload that cannot be read at all is :class:`PayloadRejected`.
    """

    note: str


Parsed = Event | NotApplied
"""What a provider module finds in a request: events to apply, and notes of what it does
not apply."""

ParseFunction = Callable[[InboundRequest, ReceiverContext], Sequence[Parsed]]

NOTE_SEPARATOR = "; "


def split_notes(parsed: Sequence[Parsed]) -> tuple[list[Event], str | None]:
    """The events to apply, and the notes (joined) stored as the notification's ``reason``
    (``None`` without a note)."""
    events: list[Event] = []
    notes: list[str] = []
    for item in parsed:
        if isinstance(item, NotApplied):
            notes.append(item.note)
        else:
            events.append(item)
    return events, NOTE_SEPARATOR.join(notes) if notes else None


@dataclass(frozen=True, slots=True)
class SamplePayload:
    """A documented example request, posted by ``callbox send-sample``."""

    description: str
    body: bytes
    content_type: str
    method: str = "POST"
    query: str = ""


@dataclass(frozen=True, slots=True)
class Provider:
    """A provider's registration: its name, parser, options type and examples."""

    name: str
    parse: ParseFunction
    samples: Sequence[SamplePayload]
    options_type: type[msgspec.Struct] = NoOptions
    default_timezone: str = "UTC"
    default_region: str | None = None
    methods: frozenset[str] = frozenset({"POST"})
    """HTTP methods the provider calls back with (HEAD is always answered)."""
    secret_headers: frozenset[str] = frozenset()
    """Extra header names (lower-case) never stored with the raw request."""
    signature: SignatureScheme | None = None
    """How the provider signs its callbacks (``None``: it does not)."""
