"""Keyset cursors: the sort key (a timestamp) and the id of an item, per list kind, sealed.

A cursor seals ``(microseconds since the epoch, id)`` with the instance key
(:mod:`callbox.sealing`) for its kind of list: a cursor of one list does not open in
another, and a client learns nothing from it (row ids come from global sequences). The
timestamp and id let the next page start with an index seek (``(at, id) < (cursor)``), so
page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from callbox.graphql.errors import InvalidInput
from callbox.sealing import Sealer, Unsealable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class CursorKind(StrEnum):
    """The kinds of rows clients see by id and page through."""

    MESSAGE = "message"
    CONVERSATION = "conversation"
    NOTIFICATION = "notification"
    OPT_OUT = "opt-out"


@dataclass(frozen=True, slots=True)
class SortKey:
    """Where an item sits in a newest-first list: its time, then its id."""

    at: datetime
    id: int


def encode_cursor(sealer: Sealer, kind: CursorKind, key: SortKey) -> str:
    return seal_cursor(sealer, kind, (key.at - _EPOCH) // _MICROSECOND, key.id)


def seal_cursor(sealer: Sealer, kind: CursorKind, micros: int, item_id: int) -> str:
    """The cursor of the item at ``micros`` since the epoch with id ``item_id``."""
    return sealer.seal(f"{kind.value}-cursor", micros, item_id)


def micros_sql(timestamp: str) -> str:
    """SQL: the microseconds since the epoch of a ``timestamptz`` expression, as
    :func:`encode_cursor` counts them (``extract`` is exact numeric since PostgreSQL 14)."""
    return f"(extract(epoch FROM {timestamp}) * 1000000)::bigint"


def decode_cursor(sealer: Sealer, kind: CursorKind, cursor: str, argument: str) -> SortKey:
    """The sort key in a cursor; :class:`InvalidInput` naming ``argument`` when it is not
    a cursor of this kind of list."""
    try:
        micros, item_id = sealer.open(f"{kind.value}-cursor", cursor, 2)
        return SortKey(_EPOCH + micros * _MICROSECOND, item_id)
    except (Unsealable, OverflowError):
        raise InvalidInput(f"{argument}: not a cursor of this list of {kind.value}s") from None
