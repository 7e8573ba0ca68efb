"""Bounds on the identifiers a provider's events carry, checked when a request is parsed.

Provider ids, references and dedupe keys go into B-tree indexes, whose rows PostgreSQL
refuses beyond about 2.7 kB: an unbounded value would be refused by the database, late and
with a database error. Every provider's events are checked here at parse time instead, and
a value over its bound rejects the request with a 400 that names the field. (Addresses are
bounded where they are normalised, :mod:`callbox.model.addresses`.)
"""

from __future__ import annotations

from collections.abc import Sequence

from callbox.providers.base import NotApplied, Parsed, PayloadRejected

MAX_IDENTIFIER_CHARS = 255
"""A provider's message id, a reference, the id an inbound message replies to."""
MAX_DEDUPE_KEY_CHARS = 600
"""A dedupe key: a prefix and up to two identifiers."""

_BOUNDED = {
    "provider_message_id": MAX_IDENTIFIER_CHARS,
    "reference": MAX_IDENTIFIER_CHARS,
    "in_reply_to": MAX_IDENTIFIER_CHARS,
    "dedupe_key": MAX_DEDUPE_KEY_CHARS,
}


def check_bounds(events: Sequence[Parsed]) -> None:
    """Raises :class:`PayloadRejected` naming the first field over its bound, or a note
    (:class:`NotApplied`) Postgres could not store."""
    for event in events:
        if isinstance(event, NotApplied):
            _check_note(event.note)
            continue
        for name, limit in _BOUNDED.items():
            value = getattr(event, name, None)
            if isinstance(value, str) and len(value) > limit:
                raise PayloadRejected(
                    f"{name} of {len(value)} characters is too long (at most {limit})"
                )


def _check_note(note: str) -> None:
    """A note quotes the payload (an event's name): it must be text Postgres can store."""
    if "\x00" in note:
        raise PayloadRejected("a note contains a NUL character (\\u0000), which cannot be stored")
    try:
        note.encode()
    except UnicodeEncodeError:
        raise PayloadRejected(
            "a note contains an unpaired UTF-16 surrogate, which cannot be stored"
        ) from None
