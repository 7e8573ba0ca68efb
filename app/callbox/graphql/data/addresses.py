"""The stored forms an address given in a filter may have (stored addresses are normalised)."""

from __future__ import annotations

from collections.abc import Iterable

from callbox.graphql.errors import InvalidInput
from callbox.model.addresses import AddressRejected, normalise_address


def address_candidates(
    value: str, regions: Iterable[str | None], *, named: bool, argument: str = "address"
) -> tuple[str, ...]:
    """The stored forms ``value`` may have: normalised with each of ``regions`` (the default
    regions of the receivers in scope). With no receiver ``named`` (the scope is every
    receiver the key sees), also as given and normalised without a region, for data of
    receivers no longer configured. Duplicates removed, order kept.

    An address no stored one can be (too long, see docs/statuses.md) is :class:`InvalidInput`
    naming ``argument``."""
    text = value.strip()
    try:
        forms = [normalise_address(text, region) for region in regions]
        if not named or not forms:
            forms += [text, normalise_address(text)]
    except AddressRejected as error:
        raise InvalidInput(f"{argument}: {error}") from None
    return tuple(dict.fromkeys(form for form in forms if form))


def normalised_input(value: str, region: str | None, *, argument: str) -> str:
    """An address given in a mutation, normalised; too long is :class:`InvalidInput`."""
    try:
        return normalise_address(value, region)
    except AddressRejected as error:
        raise InvalidInput(f"{argument}: {error}") from None
