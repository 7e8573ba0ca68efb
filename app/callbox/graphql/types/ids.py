"""IDs: the database id as a decimal string."""

from __future__ import annotations

import strawberry

from callbox.graphql.errors import InvalidInput

_MAX_BIGINT = 2**63 - 1


def to_id(value: int) -> strawberry.ID:
    return strawberry.ID(str(value))


def parse_id(value: str, argument: str) -> int:
    text = str(value).strip()
    if not text.isdigit() or int(text) > _MAX_BIGINT:
        raise InvalidInput(f"{argument}: {value!r} is not an id")
    return int(text)
