"""Opaque keyset cursors: the sort key (a timestamp) and the id of an item, per list kind.

A cursor is base64url of ``<kind>:<microseconds since the epoch>:<id>``. The kind stops a
cursor of one list being used in another; the timestamp and id let the next page start with
an index seek (``(at, id) < (cursor)``), so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from callbox.graphql.errors import InvalidInput

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class CursorKind(StrEnum):
    MESSAGE = "message"
    CONVERSATION = "conversation"
    NOTIFICATION = "notification"
    OPT_OUT = "opt-out"


@dataclass(frozen=True, slots=True)
class SortKey:
    """Where an item sits in a newest-first list: its time, then its id."""

    at: datetime
    id: int


def encode_cursor(kind: CursorKind, key: SortKey) -> str:
    micros = (key.at - _EPOCH) // _MICROSECOND
    text = f"{kind.value}:{micros}:{key.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(kind: CursorKind, cursor: str, argument: str) -> SortKey:
    """The sort key in a cursor; :class:`InvalidInput` naming ``argument`` when it is not
    a cursor of this kind of list."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        found_kind, micros, item_id = text.split(":")
        if found_kind != kind.value:
            raise ValueError(found_kind)
        return SortKey(_EPOCH + int(micros) * _MICROSECOND, int(item_id))
    except (ValueError, UnicodeError, binascii.Error, OverflowError):
        raise InvalidInput(f"{argument}: not a cursor of this list of {kind.value}s") from None
