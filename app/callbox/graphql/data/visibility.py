"""Which receivers' rows a caller may see: the API key's confinement, applied to every query."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Visibility:
    """``receivers`` is ``None`` for a key that sees everything, else the receivers it may see."""

    receivers: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> Visibility:
        return cls(None)

    @classmethod
    def only(cls, receivers: Iterable[str]) -> Visibility:
        return cls(frozenset(receivers))

    def allows(self, receiver: str) -> bool:
        return self.receivers is None or receiver in self.receivers

    def restrict(self, requested: Iterable[str] | None) -> tuple[str, ...] | None:
        """The receivers a query must be limited to: the key's, narrowed by the filter's.

        ``None`` means no limit at all; an empty tuple means nothing can match.
        """
        if requested is None:
            return None if self.receivers is None else tuple(sorted(self.receivers))
        wanted = set(requested)
        if self.receivers is not None:
            wanted &= self.receivers
        return tuple(sorted(wanted))
