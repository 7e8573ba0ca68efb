"""Address normalisation: phone numbers to E.164, e-mail lower-cased, names kept as given.

Addresses are bounded before anything is parsed or cached (docs/statuses.md, "Addresses"):
at most :data:`MAX_ADDRESS_LENGTH` characters (the longest e-mail address SMTP allows), and a
phone number at most :data:`MAX_PHONE_DIGITS` digits (E.164's 15 plus an international
dialling prefix such as ``0011``). Longer input raises :class:`AddressRejected`.
"""

import functools

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import (
    COUNTRY_CODE_TO_REGION_CODE,
    PhoneNumberType,
    _number_type_helper,
    national_significant_number,
)
from phonenumbers.re_util import re_compile

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


def is_valid_number(number: phonenumbers.PhoneNumber) -> bool:
    """``phonenumbers.is_valid_number``, without its repeated work.

    For a calling code shared by several regions (+44: GB, GG, IM, JE; +1: the NANP), the
    library first finds the number's region by matching the number against each region's
    patterns (``_region_code_for_number_from_list``), then validates it for that region by
    matching the same number against the same region's patterns again. Where the region was
    found by that match, the second match cannot differ, so only the rest of the region
    check (the region's calling code) is done here. Everything else is the library's own
    code. ``tests/test_phone_validity.py`` holds it equal to the library's over a generated
    corpus of numbers, valid and invalid, from every region.
    """
    country_code = number.country_code
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code) if country_code is not None else None
    if regions is None or len(regions) == 1:
        return bool(phonenumbers.is_valid_number(number))  # one region: nothing repeated
    national_number = national_significant_number(number)
    for region_code in regions:
        metadata = PhoneMetadata.metadata_for_region(region_code.upper(), None)
        if metadata is None:
            continue
        if metadata.leading_digits is not None:
            if re_compile(metadata.leading_digits).match(national_number):
                return bool(phonenumbers.is_valid_number_for_region(number, region_code))
        elif _number_type_helper(national_number, metadata) != PhoneNumberType.UNKNOWN:
            # is_valid_number_for_region(number, region_code) would match the same patterns
            # of the same metadata again; what remains of it is the calling code check.
            return bool(metadata.country_code == country_code)
    return False  # no region: is_valid_number_for_region(number, None) is False
