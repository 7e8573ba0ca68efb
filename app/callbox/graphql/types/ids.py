"""IDs: the database id sealed with the instance key for its kind of row.

Row ids come from global sequences, so a plain id would tell a key confined to one
receiver how many rows every receiver has (:mod:`callbox.sealing`). A sealed id is stable
(the same row always has the same id, on every replica), opens only for its kind (a message
id is not a conversation id), and says nothing else.
"""

from __future__ import annotations

import strawberry

from callbox.graphql.data.cursors import CursorKind
from callbox.graphql.errors import InvalidInput
from callbox.sealing import Sealer, Unsealable

_QUOTED_CHARS = 60


def to_id(sealer: Sealer, kind: CursorKind, value: int) -> strawberry.ID:
    return strawberry.ID(sealer.seal(f"{kind.value}-id", value))


def parse_id(sealer: Sealer, kind: CursorKind, value: str, argument: str) -> int:
    try:
        (row_id,) = sealer.open(f"{kind.value}-id", str(value).strip(), 1)
    except Unsealable:
        quoted = str(value)[:_QUOTED_CHARS]
        raise InvalidInput(f"{argument}: {quoted!r} is not a {kind.value} id") from None
    return row_id
