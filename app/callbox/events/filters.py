"""Which events one subscriber wants, decided on the server from the event row alone.

``receivers`` is never the client's list as given: it is the client's list narrowed to what
its API key may see (``Visibility.restrict``), or the key's own receivers, or ``None`` for a
key that sees everything. Every event, live or replayed, is matched here.
"""

from __future__ import annotations

from dataclasses import dataclass

from callbox.events.log import EventRow


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Every field given must match; ``None`` matches anything."""

    receivers: frozenset[str] | None = None
    kinds: frozenset[str] | None = None
    directions: frozenset[str] | None = None
    conversation_ids: frozenset[int] | None = None
    message_ids: frozenset[int] | None = None
    addresses: frozenset[str] | None = None
    """Stored forms of the other party's address."""

    def matches(self, row: EventRow) -> bool:
        return (
            (self.receivers is None or row.receiver in self.receivers)
            and (self.kinds is None or row.kind in self.kinds)
            and (self.directions is None or row.direction in self.directions)
            and (self.conversation_ids is None or row.conversation_id in self.conversation_ids)
            and (self.message_ids is None or row.message_id in self.message_ids)
            and (self.addresses is None or row.address in self.addresses)
        )

    @property
    def receiver_list(self) -> tuple[str, ...] | None:
        """For the replay's SQL: only these receivers' rows are read at all."""
        return None if self.receivers is None else tuple(sorted(self.receivers))
