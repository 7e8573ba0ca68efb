"""The model's vocabulary, exposed as GraphQL enums (the same classes, registered once)."""

from __future__ import annotations

import strawberry

from callbox.graphql.data.filters import BucketSize
from callbox.model.vocabulary import (
    BounceType,
    Channel,
    Direction,
    FailureReason,
    NotificationState,
    OptOutAction,
    ReportKind,
    Status,
)

strawberry.enum(Direction, description="INBOUND: from another party to us; OUTBOUND: ours.")
strawberry.enum(Channel, description="How a message travels.")
strawberry.enum(
    Status,
    description="A message's normalised status (docs/statuses.md); DELIVERED and FAILED are final.",
)
strawberry.enum(FailureReason, description="Why a FAILED message failed.")
strawberry.enum(
    ReportKind,
    description="What a report in a message's history says. Only STATUS changes the"
    " message's status; DEFERRED (a soft bounce, a delay: not the end of the message),"
    " OPENED, CLICKED, COMPLAINED and UNSUBSCRIBED are kept beside it (docs/statuses.md,"
    " E-mail).",
)
strawberry.enum(
    BounceType,
    description="What kind of bounce a report is: HARD (the address does not work), SOFT"
    " (temporary), BLOCKED (refused by policy), SUPPRESSED (not attempted: on a suppression"
    " list), UNDETERMINED.",
)
strawberry.enum(NotificationState, description="What became of a raw request.")
strawberry.enum(OptOutAction, description="A row of the opt-out ledger opts out or back in.")
strawberry.enum(BucketSize, name="Bucket", description="The width of a time-series bucket.")

__all__ = [
    "BounceType",
    "BucketSize",
    "Channel",
    "Direction",
    "FailureReason",
    "NotificationState",
    "OptOutAction",
    "ReportKind",
    "Status",
]
