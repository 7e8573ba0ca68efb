"""Secrets from configuration: kept only as SHA-256 digests, compared in constant time.

A secret may be written as the value itself, as ``env:NAME`` (read from the environment at
start) or as ``sha256:<hex digest of the value>`` so the file never holds the true secret.
Whatever the form, Callbox keeps only the digest in memory and never logs it.

Signature keys (``auth.signature``) are the exception: an HMAC needs the key itself, so
:func:`resolve_key` returns the value (from the file or ``env:NAME``), held in memory only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")


class SecretError(ValueError):
    """A secret reference that cannot be resolved (bad digest, unset variable)."""


@dataclass(frozen=True, slots=True)
class SecretDigest:
    """The SHA-256 digest of one accepted secret."""

    digest: bytes

    def __repr__(self) -> str:
        return "SecretDigest(<redacted>)"

    def matches(self, presented: str | bytes) -> bool:
        raw = presented.encode() if isinstance(presented, str) else presented
        return hmac.compare_digest(hashlib.sha256(raw).digest(), self.digest)


def resolve_secret(reference: str, environ: Mapping[str, str] | None = None) -> SecretDigest:
    """Turn one configured secret (value, ``env:NAME`` or ``sha256:HEX``) into its digest."""
    environment = os.environ if environ is None else environ
    if reference.startswith("sha256:"):
        hex_digest = reference.removeprefix("sha256:")
        if not _HEX_DIGEST.fullmatch(hex_digest):
            raise SecretError("sha256: must be followed by 64 hexadecimal digits")
        return SecretDigest(bytes.fromhex(hex_digest))
    if reference.startswith("env:"):
        name = reference.removeprefix("env:")
        value = environment.get(name)
        if not value:
            raise SecretError(f"environment variable {name} is not set or empty")
        return SecretDigest(hashlib.sha256(value.encode()).digest())
    if not reference:
        raise SecretError("empty secret")
    return SecretDigest(hashlib.sha256(reference.encode()).digest())


def resolve_key(reference: str, environ: Mapping[str, str] | None = None) -> str:
    """One configured signature key (value or ``env:NAME``) as text.

    A key that signs or verifies (an HMAC secret, a public key) cannot be kept as a digest:
    the value itself is returned, to be held in memory only and never logged or stored.
    """
    environment = os.environ if environ is None else environ
    if reference.startswith("sha256:"):
        raise SecretError(
            "a signature key cannot be given as a digest (the HMAC needs the key itself):"
            " use env:NAME"
        )
    if reference.startswith("env:"):
        name = reference.removeprefix("env:")
        value = environment.get(name)
        if not value:
            raise SecretError(f"environment variable {name} is not set or empty")
        return value
    if not reference:
        raise SecretError("empty key")
    return reference


def any_matches(accepted: Iterable[SecretDigest], presented: str | bytes) -> bool:
    """True if ``presented`` is one of the accepted secrets.

    Every candidate is compared (no early exit), so timing does not reveal which one matched.
    """
    matched = False
    for secret in accepted:
        matched |= secret.matches(presented)
    return matched
