"""``callbox.model.addresses.is_valid_number`` (the ingest path's phone validation, without
the library's repeated pattern matching) gives what ``phonenumbers.is_valid_number`` gives,
over a generated corpus: every region's example numbers of every type, the same with a digit
changed, added or removed, and random digit strings parsed with and without ``+`` and a
default region, valid and invalid alike. Then ``normalise_address`` over the same texts
gives what it gives with the library's own check."""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from callbox.model import addresses
from callbox.model.addresses import is_valid_number, normalise_address

TYPES = [
    PhoneNumberType.FIXED_LINE,
    PhoneNumberType.MOBILE,
    PhoneNumberType.TOLL_FREE,
    PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST,
    PhoneNumberType.VOIP,
    PhoneNumberType.PERSONAL_NUMBER,
    PhoneNumberType.PAGER,
    PhoneNumberType.UAN,
    PhoneNumberType.VOICEMAIL,
]
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
# Calling codes shared by several regions: where the fast path differs from the library's.
SHARED_CODES = sorted(
    code for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items() if len(regions) > 1
)
ALL_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _example_texts() -> Iterator[str]:
    for region in REGIONS:
        for number_type in TYPES:
            example = phonenumbers.example_number_for_type(region, number_type)
            if example is not None:
                yield phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        example = phonenumbers.example_number_for_non_geo_entity(code)
        if example is not None:
            yield phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


def _variants(text: str, rng: random.Random) -> Iterator[str]:
    digits = text.lstrip("+")
    yield text
    for _ in range(4):
        at = rng.randrange(1, len(digits))
        yield "+" + digits[:at] + str(rng.randrange(10)) + digits[at + 1 :]  # one changed
        yield "+" + digits[:at] + str(rng.randrange(10)) + digits[at:]  # one added
        yield "+" + digits[:at] + digits[at + 1 :]  # one removed
    yield "+" + digits + "0"


@functools.cache
def corpus(size: int = 60_000, seed: int = 15) -> list[str]:
    rng = random.Random(seed)
    texts: list[str] = []
    for example in _example_texts():
        texts.extend(_variants(example, rng))
    while len(texts) < size:
        kind = rng.randrange(4)
        if kind in (0, 3):  # a (shared) calling code, then random digits (mostly invalid)
            code = str(rng.choice(SHARED_CODES if kind == 0 else ALL_CODES))
            texts.append("+" + code + "".join(rng.choices("0123456789", k=rng.randint(4, 12))))
        elif kind == 1:  # any length, any digits, with or without "+"
            digits = "".join(rng.choices("0123456789", k=rng.randint(3, 17)))
            texts.append(("+" if rng.random() < 0.6 else "") + digits)
        else:  # national forms: a trunk prefix and a region's digits
            texts.append("0" + "".join(rng.choices("0123456789", k=rng.randint(6, 12))))
    return texts


def _parsed(texts: list[str], rng: random.Random) -> Iterator[phonenumbers.PhoneNumber]:
    for text in texts:
        region = None if text.startswith("+") else rng.choice(REGIONS)
        try:
            yield phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue


def test_is_valid_number_equals_the_library_over_a_generated_corpus() -> None:
    rng = random.Random(1515)
    checked = valid = shared = 0
    for number in _parsed(corpus(), rng):
        expected = phonenumbers.is_valid_number(number)
        assert is_valid_number(number) == expected, phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.E164
        )
        checked += 1
        valid += expected
        shared += number.country_code in SHARED_CODES
    # The corpus exercises both answers, and the shared calling codes the fast path handles.
    assert checked > 45_000
    assert 5_000 < valid < checked - 5_000
    assert shared > 10_000


@pytest.mark.parametrize("region", [None, "GB", "US", "SE", "FR", "JE"])
def test_normalise_address_is_unchanged_by_the_fast_check(
    region: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = random.Random(str(region)).sample(corpus(), 3_000)
    texts += [text.lstrip("+") for text in texts[:1_500]]
    fast = [normalise_address(text, region) for text in texts]
    addresses._parse_phone.cache_clear()
    monkeypatch.setattr(addresses, "is_valid_number", phonenumbers.is_valid_number)
    try:
        library = [normalise_address(text, region) for text in texts]
    finally:
        addresses._parse_phone.cache_clear()
    assert fast == library
