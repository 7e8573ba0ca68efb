"""Address normalisation: phone numbers to E.164, e-mail lower-cased, names kept as given.

Addresses are bounded before anything is parsed or cached (docs/statuses.md, "Addresses"):
at most :data:`MAX_ADDRESS_LENGTH` characters (the longest e-mail address SMTP allows), and a
phone number at most :data:`MAX_PHONE_DIGITS` digits (E.164's 15 plus an international
dialling prefix such as ``0011``). Longer input raises :class:`AddressRejected`.
"""

import functools
import re

import phonenumbers
from phonenumbers.phonemetadata import (
    REGION_CODE_FOR_NON_GEO_ENTITY,
    PhoneMetadata,
    PhoneNumberDesc,
)
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, national_significant_number

MAX_ADDRESS_LENGTH = 254
"""Characters in an address, trimmed: RFC 5321's limit for an e-mail address."""
MAX_PHONE_DIGITS = 20
"""Digits in a phone number as written: 15 for E.164 plus a dialling prefix and slack."""

# Numbers the library cannot validate (new ranges, test numbers) are still made E.164 when
# they are long enough to be full international numbers.
_MIN_UNVALIDATED_DIGITS = 8
_PHONE_PUNCTUATION = str.maketrans("", "", " -().\u00a0")


class AddressRejected(ValueError):
    """An address too long to be one; the message says which limit it breaks."""


def normalise_address(value: str, default_region: str | None = None) -> str:
    """Return the canonical form of an address as Callbox stores and matches it.

    Phone numbers become E.164 (``07700900123`` in region GB and ``447700900123`` are both
    ``+447700900123``); e-mail addresses are lower-cased; anything else (an alphanumeric
    sender name such as ``ACME``) is kept as given, trimmed. Raises :class:`AddressRejected`
    for an address over :data:`MAX_ADDRESS_LENGTH` characters or a phone number over
    :data:`MAX_PHONE_DIGITS` digits.
    """
    text = value.strip()
    if len(text) > MAX_ADDRESS_LENGTH:
        raise AddressRejected(
            f"address of {len(text)} characters is too long (at most {MAX_ADDRESS_LENGTH})"
        )
    if "@" in text:
        return text.lower()
    compact = text.translate(_PHONE_PUNCTUATION)
    digits = compact[1:] if compact.startswith("+") else compact
    if not digits.isdigit() or len(digits) < 3:
        return text
    if len(digits) > MAX_PHONE_DIGITS:
        raise AddressRejected(
            f"phone number of {len(digits)} digits is too long (at most {MAX_PHONE_DIGITS})"
        )
    e164 = _parse_phone(compact, default_region)
    return e164 if e164 is not None else compact


# Only the phone parsing is cached: its keys are at most MAX_PHONE_DIGITS + 1 characters,
# so the cache's memory is bounded whatever callers send.
@functools.lru_cache(maxsize=65536)
def _parse_phone(compact: str, default_region: str | None) -> str | None:
    candidates: list[tuple[str, str | None]] = []
    if compact.startswith("+"):
        candidates.append((compact, None))
    else:
        if default_region:
            candidates.append((compact, default_region.upper()))
        # International numbers written without "+" (447700900123, 0033601010101 is handled
        # by the region's own international prefix above).
        candidates.append(("+" + compact, None))
    parsed_candidates = []
    for number, region in candidates:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        parsed_candidates.append(parsed)
    if len(compact.lstrip("+")) < _MIN_UNVALIDATED_DIGITS:
        return None  # short codes such as 12345 stay as given
    for parsed in parsed_candidates:
        if phonenumbers.is_possible_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return None


_TYPE_DESCRIPTIONS = (
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
)
"""The number types ``_number_type_helper`` tries after the general description; ``mobile``
follows unless the region's mobile and fixed-line patterns are the same."""

_Description = tuple[tuple[int, ...], re.Pattern[str] | None]


def _description(number_desc: PhoneNumberDesc | None) -> _Description | None:
    if number_desc is None:
        return None
    pattern = number_desc.national_number_pattern
    compiled = re.compile(pattern) if pattern else None  # (an empty pattern matches nothing)
    return (tuple(number_desc.possible_length), compiled)


def _matches(national_number: str, description: _Description | None) -> bool:
    """``phonenumberutil._is_number_matching_desc``: the length among the possible ones (when
    any are listed), then the whole number matching the pattern (the library's prefix match
    followed by a full match is the full match: a full match is a prefix match)."""
    if description is None:
        return False
    lengths, pattern = description
    if lengths and len(national_number) not in lengths:
        return False
    return pattern is not None and pattern.fullmatch(national_number) is not None


class _RegionCheck:
    """A region's metadata made ready to answer ``_number_type_helper(...) != UNKNOWN``."""

    __slots__ = ("general", "leading_digits", "types")

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.general = _description(metadata.general_desc)
        names: tuple[str, ...] = _TYPE_DESCRIPTIONS
        if not metadata.same_mobile_and_fixed_line_pattern:
            names = (*names, "mobile")
        self.types = tuple(_description(getattr(metadata, name)) for name in names)
        leading = metadata.leading_digits
        self.leading_digits = re.compile(leading) if leading is not None else None

    def has_a_type(self, national_number: str) -> bool:
        return _matches(national_number, self.general) and any(
            _matches(national_number, description) for description in self.types
        )


_REGION_CHECKS: dict[tuple[str | None, int | None], _RegionCheck] = {}


def _region_check(metadata: PhoneMetadata) -> _RegionCheck:
    # A region's id ("GB"), or "001" for every non-geographic calling code: with the
    # calling code, one key per metadata (PhoneMetadata is not hashable).
    key = (metadata.id, metadata.country_code)
    check = _REGION_CHECKS.get(key)
    if check is None:
        check = _REGION_CHECKS[key] = _RegionCheck(metadata)
    return check


def _is_valid_for_region(country_code: int, region_code: str, national_number: str) -> bool:
    """``phonenumbers.is_valid_number_for_region`` of a number with these parts."""
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region_code.upper())
    if metadata is None:
        return False
    # country_code_for_valid_region(region_code) is this same metadata's calling code.
    if region_code != REGION_CODE_FOR_NON_GEO_ENTITY and country_code != metadata.country_code:
        return False
    return _region_check(metadata).has_a_type(national_number)


def is_valid_number(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number``, without its repeated work.

    The library finds the number's region (for a calling code shared by several regions, +44
    or +1, by matching the number against each region's patterns), then validates it for that
    region by matching it against the same patterns again, compiling (or looking up) every
    pattern on every call. Here each region's patterns are compiled once, a region found by
    matching its patterns is valid without matching them again, and validity stops at the
    first number type that matches (the library's order, without telling which type it is).
    ``tests/test_phone_validity.py`` holds it equal to the library's over a generated corpus
    of numbers, valid and invalid, from every region.
    """
    country_code = number.country_code
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code) if country_code is not None else None
    if regions is None or country_code is None:
        return False  # no region: is_valid_number_for_region(number, None) is False
    national_number = national_significant_number(number)
    if len(regions) == 1:
        return _is_valid_for_region(country_code, regions[0], national_number)
    for region_code in regions:
        metadata = PhoneMetadata.metadata_for_region(region_code.upper(), None)
        if metadata is None:
            continue
        check = _region_check(metadata)
        if check.leading_digits is not None:
            if check.leading_digits.match(national_number):
                return _is_valid_for_region(country_code, region_code, national_number)
        elif check.has_a_type(national_number):
            # Validating for region_code would match the same patterns of the same metadata
            # again; what remains of it is the calling code check.
            return bool(metadata.country_code == country_code)
    return False
