"""The model's vocabulary, exposed as GraphQL enums (the same classes, registered once)."""

from __future__ import annotations

import strawberry

from callbox.graphql.data.filters import BucketSize
from callbox.model.vocabulary import (
    Channel,
    Direction,
    FailureReason,
    NotificationState,
    OptOutAction,
    Status,
)

strawberry.enum(Direction, description="INBOUND: from another party to us; OUTBOUND: ours.")
strawberry.enum(Channel, description="How a message travels.")
strawberry.enum(
    Status,
    description="A message's normalised status (docs/statuses.md); DELIVERED and FAILED are final.",
)
strawberry.enum(FailureReason, description="Why a FAILED message failed.")
strawberry.enum(NotificationState, description="What became of a raw request.")
strawberry.enum(OptOutAction, description="A row of the opt-out ledger opts out or back in.")
strawberry.enum(BucketSize, name="Bucket", description="The width of a time-series bucket.")

__all__ = [
    "BucketSize",
    "Channel",
    "Direction",
    "FailureReason",
    "NotificationState",
    "OptOutAction",
    "Status",
]
