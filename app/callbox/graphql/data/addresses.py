"""The stored forms an address given in a filter may have (stored addresses are normalised)."""

from __future__ import annotations

from collections.abc import Iterable

from callbox.model.addresses import normalise_address


def address_candidates(value: str, regions: Iterable[str | None] | None) -> tuple[str, ...]:
    """With receivers, the address normalised with each receiver's default region; without,
    the address as given and normalised with no region. Duplicates removed, order kept."""
    text = value.strip()
    if regions is None:
        forms = [text, normalise_address(text)]
    else:
        forms = [normalise_address(text, region) for region in regions] or [normalise_address(text)]
    return tuple(dict.fromkeys(form for form in forms if form))
