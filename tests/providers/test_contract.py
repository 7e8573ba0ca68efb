"""The provider contract, run over every registered provider (``callbox.providers.PROVIDERS``).

A new provider is checked as soon as its registration line is added: nothing here names one.
The last tests register a throwaway provider to show exactly that, and that the checks fail
for a provider that breaks the contract.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import asyncpg
import pytest

from callbox.model.vocabulary import Channel, Status
from callbox.providers import PROVIDERS
from callbox.providers.base import (
    Event,
    InboundRequest,
    Provider,
    ReceiverContext,
    SamplePayload,
    StatusReported,
)
from callbox.providers.payloads import decode_form, required_str
from tests.integration.test_signed_receivers import HMACBOX
from tests.providers.contract import (
    STATUSES_DOC,
    check_junk_is_rejected,
    check_registration,
    check_samples_accepted_end_to_end,
    check_samples_parse,
    check_signed_samples_end_to_end,
    check_statuses_documented,
)

Check = Callable[[Provider], None]

CHECKS: dict[str, Check] = {
    "registration": check_registration,
    "samples-parse": check_samples_parse,
    "junk-is-rejected": check_junk_is_rejected,
    "statuses-documented": check_statuses_documented,
}


def registered() -> list[Provider]:
    return list(PROVIDERS.values())


@pytest.mark.parametrize("check", CHECKS.values(), ids=CHECKS.keys())
@pytest.mark.parametrize("provider", registered(), ids=lambda provider: provider.name)
def test_contract(provider: Provider, check: Check) -> None:
    check(provider)


@pytest.mark.parametrize("provider", registered(), ids=lambda provider: provider.name)
async def test_samples_are_accepted_end_to_end(
    provider: Provider, database_url: str, db: asyncpg.Connection
) -> None:
    await check_samples_accepted_end_to_end(provider, database_url, db)


def signing() -> list[Provider]:
    return [p for p in registered() if p.signature is not None and p.signature.sign is not None]


@pytest.mark.parametrize("provider", signing(), ids=lambda provider: provider.name)
async def test_signed_samples_are_verified_end_to_end(
    provider: Provider, database_url: str, db: asyncpg.Connection
) -> None:
    await check_signed_samples_end_to_end(provider, database_url, db)


# --- A throwaway sixth provider -------------------------------------------------------------

THROWAWAY_STATUSES: dict[str, Status] = {"zapped": Status.DELIVERED}

THROWAWAY_SECTION = """
## Throwaway

| Provider value | Callbox status | Failure reason | Note |
| --- | --- | --- | --- |
| `zapped` | DELIVERED | | |
"""


def parse_throwaway(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    fields = decode_form(request.body)
    provider_status = required_str(fields, "status")
    message_id = required_str(fields, "id")
    return [
        StatusReported(
            dedupe_key=f"receipt:{message_id}:{provider_status}",
            provider_message_id=message_id,
            channel=Channel.SMS,
            status=THROWAWAY_STATUSES.get(provider_status, Status.UNKNOWN),
            provider_status=provider_status,
            failure_reason=None,
            occurred_at=None,
        )
    ]


def parse_fragile(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    """Breaks the contract: junk ends in a ValueError (or KeyError), not PayloadRejected."""
    fields = dict(pair.split("=") for pair in request.body.decode().split("&"))
    int(fields["id"])
    return parse_throwaway(request, receiver)


def throwaway(parse: Callable[[InboundRequest, ReceiverContext], list[Event]]) -> Provider:
    return Provider(
        name="throwaway",
        parse=parse,
        samples=(
            SamplePayload(
                description="Delivered",
                content_type="application/x-www-form-urlencoded",
                body=b"id=1&status=zapped",
            ),
        ),
    )


def test_a_registered_provider_is_picked_up_and_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = throwaway(parse_throwaway)
    monkeypatch.setitem(PROVIDERS, provider.name, provider)

    assert provider in registered()  # what the contract tests are parametrised with
    doc = STATUSES_DOC.read_text() + THROWAWAY_SECTION
    for name, check in CHECKS.items():
        if name == "statuses-documented":
            check_statuses_documented(provider, doc)
        else:
            check(provider)


async def test_a_registered_provider_is_accepted_end_to_end(
    monkeypatch: pytest.MonkeyPatch, database_url: str, db: asyncpg.Connection
) -> None:
    provider = throwaway(parse_throwaway)
    monkeypatch.setitem(PROVIDERS, provider.name, provider)

    await check_samples_accepted_end_to_end(provider, database_url, db)


def test_an_undocumented_provider_fails_the_docs_check(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = throwaway(parse_throwaway)
    monkeypatch.setitem(PROVIDERS, provider.name, provider)

    with pytest.raises(AssertionError, match="needs exactly one '## ' section"):
        check_statuses_documented(provider)
    undocumented = STATUSES_DOC.read_text() + THROWAWAY_SECTION.replace("`zapped`", "`zipped`")
    with pytest.raises(AssertionError, match=r"mapped but not in docs/statuses.md: \['zapped'\]"):
        check_statuses_documented(provider, undocumented)


def test_a_parser_raising_other_errors_on_junk_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    provider = throwaway(parse_fragile)
    monkeypatch.setitem(PROVIDERS, provider.name, provider)

    check_samples_parse(provider)
    with pytest.raises(AssertionError, match="raised something other than PayloadRejected"):
        check_junk_is_rejected(provider)


async def test_a_signing_provider_is_checked_and_one_that_verifies_nothing_fails(
    monkeypatch: pytest.MonkeyPatch, database_url: str, db: asyncpg.Connection
) -> None:
    monkeypatch.setitem(PROVIDERS, HMACBOX.name, HMACBOX)
    await check_signed_samples_end_to_end(HMACBOX, database_url, db)

    assert HMACBOX.signature is not None
    credulous = dataclasses.replace(
        HMACBOX,
        signature=dataclasses.replace(HMACBOX.signature, verify=lambda *_: None),
    )
    monkeypatch.setitem(PROVIDERS, credulous.name, credulous)
    await db.execute("TRUNCATE callbox_notification CASCADE")
    with pytest.raises(AssertionError, match="signed with another key: \\(200"):
        await check_signed_samples_end_to_end(credulous, database_url, db)
