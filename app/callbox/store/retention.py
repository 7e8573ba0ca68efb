"""Retention policies: how long each receiver's raw requests and normalised data are kept.

A receiver's ``raw_retention_days`` / ``normalised_retention_days`` win over the
``[retention]`` defaults; unset everywhere, or 0, means kept forever. Days count from when
Callbox received the data, never from the provider's dates in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from callbox.settings import Settings


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    receiver: str
    raw_days: int | None
    """Raw requests received more than this many days ago are purged; ``None``: kept forever."""
    normalised_days: int | None
    """Messages Callbox first received more than this many days ago are purged."""

    def raw_cutoff(self, now: datetime) -> datetime | None:
        return now - timedelta(days=self.raw_days) if self.raw_days else None

    def normalised_cutoff(self, now: datetime) -> datetime | None:
        return now - timedelta(days=self.normalised_days) if self.normalised_days else None

    @property
    def keeps_everything(self) -> bool:
        return not self.raw_days and not self.normalised_days


def _days(own: int | None, default: int | None) -> int | None:
    days = own if own is not None else default
    return days or None


def retention_policies(settings: Settings) -> list[RetentionPolicy]:
    defaults = settings.retention
    return [
        RetentionPolicy(
            receiver=receiver.name,
            raw_days=_days(receiver.raw_retention_days, defaults.raw_days),
            normalised_days=_days(receiver.normalised_retention_days, defaults.normalised_days),
        )
        for receiver in settings.receivers
    ]
