"""What e-mail providers share: mailboxes as headers write them, Message-IDs, e-mail dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callbox.providers.base import PayloadRejected
from callbox.providers.email_headers import (
    bare_message_id,
    header_date,
    mailbox,
    required_mailbox,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane@example.com", "jane@example.com"),
        ("Jane.Doe@Example.COM", "jane.doe@example.com"),  # lower-cased whole (statuses.md)
        ('"Doe, Jane" <Jane@Example.com>', "jane@example.com"),
        ("Jane Doe <jane@example.com>", "jane@example.com"),
        ("<jane@example.com>", "jane@example.com"),
        ("  jane@example.com  ", "jane@example.com"),
        (
            "mailbox+SampleHash@inbound.postmarkapp.com",
            "mailbox+samplehash@inbound.postmarkapp.com",
        ),
        ("Test Sender ", None),  # a name alone names nobody
        ("", None),
        (None, None),
        ("not an address", None),
    ],
)
def test_mailbox(value: str | None, expected: str | None) -> None:
    assert mailbox(value, field="from") == expected


def test_mailbox_bounds_and_required() -> None:
    with pytest.raises(PayloadRejected) as long:
        mailbox("x" * 250 + "@example.com", field="to")
    assert long.value.reason == "to: address of 262 characters is too long (at most 254)"
    with pytest.raises(PayloadRejected) as missing:
        required_mailbox("Support", field="From")
    assert missing.value.reason == "From: expected an e-mail address, got 'Support'"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<20160421175529.19495@example.com>", "20160421175529.19495@example.com"),
        (" 20180812211713.1.DF59@example.org ", "20180812211713.1.DF59@example.org"),
        ("< spaced@example.com >", "spaced@example.com"),
        ("<>", None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_bare_message_id(value: str | None, expected: str | None) -> None:
    assert bare_message_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Fri, 5 May 2023 17:44:33 -0400", datetime(2023, 5, 5, 21, 44, 33, tzinfo=UTC)),
        ("Fri, 1 Aug 2014 16:45:32 -04:00", datetime(2014, 8, 1, 20, 45, 32, tzinfo=UTC)),
        ("Thu, 21 Apr 2016 17:55:29 +0000", datetime(2016, 4, 21, 17, 55, 29, tzinfo=UTC)),
        ("5 May 2023 17:44:33 GMT", datetime(2023, 5, 5, 17, 44, 33, tzinfo=UTC)),
        ("Fri, 5 May 2023 17:44:33 -0000", datetime(2023, 5, 5, 17, 44, 33, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_header_date(value: str | None, expected: datetime | None) -> None:
    assert header_date(value, field="Date") == expected


@pytest.mark.parametrize("value", ["someday", "Fri, 5 May 99999 17:44:33 -0400", "32 Foo 2023"])
def test_header_date_rejects_what_is_not_a_date(value: str) -> None:
    with pytest.raises(PayloadRejected) as caught:
        header_date(value, field="Date")
    assert caught.value.reason.startswith("Date: ")
