"""docs/statuses.md covers every status value each provider module maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbox.providers import esendex, notify, octopush, wiraya

DOC = (Path(__file__).resolve().parents[1] / "docs" / "statuses.md").read_text()


def _section(title: str) -> str:
    start = DOC.index(f"## {title}")
    end = DOC.find("\n## ", start + 1)
    return DOC[start : end if end != -1 else None]


@pytest.mark.parametrize(
    ("title", "values"),
    [
        ("GOV.UK Notify", notify.NOTIFY_STATUSES),
        ("Esendex", esendex.ESENDEX_RECEIPT_STATUSES),
        ("Octopush", octopush.DELIVERY_STATUSES),
        ("Wiraya", wiraya.STATUSES),
    ],
)
def test_every_mapped_status_is_documented(title: str, values: dict[str, object]) -> None:
    section = _section(title)
    missing = [value for value in values if f"`{value}`" not in section]
    assert not missing, f"{title}: not in docs/statuses.md: {missing}"


def test_every_status_listed_in_providers_md_is_mapped() -> None:
    listed = {
        "notify": "sending delivered permanent-failure temporary-failure technical-failure "
        "pending created sent failed",
        "octopush": "ACK DELIVERED NOT_DELIVERED NOT_ALLOWED UNKNOWN_DELIVERY BAD_DESTINATION "
        "BLACKLISTED_NUMBER UNDEFINED NOT_DELIVERABLE BUSY REFUSED INVALID_DESTINATION_ADDRESS "
        "OUT_OF_DATE EXPIRED READ OPENED CLICKED TRANSMITTED",
        "wiraya": "DELIVERED NOT_DELIVERED NOT_WHITELISTED OPTOUT FAILURE UNKNOWN SPAM TEST "
        "NEXTATTEMPT NOTREACHED INCORRECTNUMBER",
    }
    tables = {
        "notify": notify.NOTIFY_STATUSES,
        "octopush": octopush.DELIVERY_STATUSES,
        "wiraya": wiraya.STATUSES,
    }
    for provider, words in listed.items():
        assert set(words.split()) <= set(tables[provider]), provider
