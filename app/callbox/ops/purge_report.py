"""The summary lines ``callbox purge`` prints, one per receiver."""

from __future__ import annotations

from callbox.store.purge import PurgeReport
from callbox.store.retention import RetentionPolicy


def describe_purge(report: PurgeReport, policies: list[RetentionPolicy]) -> list[str]:
    parts = {part.policy.receiver: part for part in report.receivers}
    verb = "would purge" if report.dry_run else "purged"
    lines = []
    for policy in policies:
        part = parts.get(policy.receiver)
        if part is None:
            lines.append(f"{policy.receiver}: keeps everything")
            continue
        done = []
        if policy.raw_days:
            done.append(f"{part.raw_requests} raw requests (older than {policy.raw_days} days)")
        if policy.normalised_days:
            messages = f"{part.messages} messages (older than {policy.normalised_days} days)"
            if not report.dry_run:
                messages += f" and {part.conversations} emptied conversations"
            done.append(messages)
        lines.append(f"{policy.receiver}: {verb} " + ", ".join(done))
    return lines
