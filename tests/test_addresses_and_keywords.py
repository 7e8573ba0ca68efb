from __future__ import annotations

import ipaddress

import pytest

from callbox.model.addresses import normalise_address
from callbox.web.client_address import resolve_client_address


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("07700900123", "GB", "+447700900123"),
        ("447700900123", "GB", "+447700900123"),
        ("+44 7700 900123", None, "+447700900123"),
        ("0033601010101", "FR", "+33601010101"),
        ("0412345678", "AU", "+61412345678"),
        ("61412345678", "AU", "+61412345678"),
        ("46710000123", "SE", "+46710000123"),
        ("ACME Ltd", "GB", "ACME Ltd"),
        ("Person@Example.COM", None, "person@example.com"),
        ("12345", "GB", "12345"),
    ],
)
def test_normalise_address(raw: str, region: str | None, expected: str) -> None:
    assert normalise_address(raw, region) == expected


TRUSTED = [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.7", "203.0.113.9", "198.51.100.7"),  # untrusted peer: header ignored
        ("10.1.2.3", "203.0.113.9", "203.0.113.9"),
        ("10.1.2.3", "1.2.3.4, 203.0.113.9, 10.0.0.5", "203.0.113.9"),  # right-most untrusted
        ("10.1.2.3", None, "10.1.2.3"),
        ("10.1.2.3", "10.0.0.9, 10.0.0.5", "10.0.0.9"),
        ("fd00::1", "2001:db8::7", "2001:db8::7"),
        ("10.1.2.3", "[2001:db8::7]:443", "2001:db8::7"),
    ],
)
def test_resolve_client_address(peer: str, forwarded: str | None, expected: str) -> None:
    assert resolve_client_address(peer, forwarded, TRUSTED) == expected


@pytest.mark.parametrize(
    "raw", ["+4407700900123", "+44 (0)7700 900123", "+44 7700 900123", "0044 7700 900123"]
)
def test_trunk_zero_after_the_country_code_is_removed(raw: str) -> None:
    assert normalise_address(raw, "GB") == "+447700900123"
