"""Numbered query parameters and the small SQL fragments built from them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class Params:
    """Collects values in order and hands out their ``$n`` placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any, cast: str | None = None) -> str:
        self.values.append(value)
        placeholder = f"${len(self.values)}"
        return f"{placeholder}::{cast}" if cast else placeholder


def one_of(column: str, values: Sequence[str], params: Params) -> str:
    """``column = $n`` for one value (index-friendly), ``= ANY($n)`` for several, ``false``
    for none."""
    if not values:
        return "false"
    if len(values) == 1:
        return f"{column} = {params(values[0], 'text')}"
    return f"{column} = ANY({params(list(values), 'text[]')})"


def where(conditions: Sequence[str]) -> str:
    return "WHERE " + " AND ".join(conditions) if conditions else ""
