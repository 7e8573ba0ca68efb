"""What kind of change an event records (the ``kind`` column of ``callbox_event``)."""

from enum import StrEnum


class EventKind(StrEnum):
    RECEIVED = "RECEIVED"
    """An inbound message was received."""
    STATUS_CHANGED = "STATUS_CHANGED"
    """A receipt reported a status of an outbound message."""
    RECORDED = "RECORDED"
    """The sending application recorded an outbound message (recordOutboundMessage)."""
    OPTED_OUT = "OPTED_OUT"
    """A row was added to the opt-out ledger (an opt-out, or an opt back in)."""
