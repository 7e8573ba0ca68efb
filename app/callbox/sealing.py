"""Opaque tokens: small integers (database ids, list and event-log positions) sealed with the
instance's key, so what a client is shown says nothing about how many rows exist.

Row ids come from global sequences: a key confined to one receiver that saw message 100
and then message 200 would learn that 99 messages arrived meanwhile, for receivers it may
not see. Sealed, every id and cursor is a random-looking token that only this instance (any
replica sharing its database, which holds the key) can open.

The cipher is AES-SIV (RFC 5297, from ``cryptography``): deterministic, so one row always
has the same id, and authenticated, so a token that was altered, made up, or sealed for
another purpose (a message id given as a conversation id) does not open. The purpose is the
associated data.
"""

from __future__ import annotations

import base64
import binascii
import struct
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

KEY_BYTES = 32
"""AES-128-SIV: two 128-bit keys."""

_MAX_VALUES = 4


class Unsealable(ValueError):
    """The text is not a token this instance sealed for this purpose."""


SEALED_KEPT = 16_384
"""Tokens each sealer remembers (about 4 MiB): the same rows are shown again and again
(recent messages, a page polled by a dashboard), and a token costs a few microseconds to
seal, a remembered one a tenth of that. Tokens are what clients are shown anyway."""


class Sealer:
    """Seals and opens tuples of signed 64-bit integers under one key."""

    __slots__ = ("_sealed", "_siv")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a sealing key is {KEY_BYTES} bytes, not {len(key)}")
        self._siv = AESSIV(key)
        self._sealed = lru_cache(maxsize=SEALED_KEPT)(self._seal)

    def seal(self, purpose: str, *values: int) -> str:
        return self._sealed(purpose, values)

    def _seal(self, purpose: str, values: tuple[int, ...]) -> str:
        plain = struct.pack(f">{len(values)}q", *values)
        token = self._siv.encrypt(plain, [purpose.encode()])
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def open(self, purpose: str, token: str, count: int) -> tuple[int, ...]:
        """The ``count`` integers sealed in ``token`` for ``purpose``; :class:`Unsealable`
        when it is anything else."""
        if not token or len(token) > 2 * (16 + 8 * _MAX_VALUES):
            raise Unsealable(purpose)
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            plain = self._siv.decrypt(raw, [purpose.encode()])
        except (InvalidTag, ValueError, binascii.Error):
            raise Unsealable(purpose) from None
        if len(plain) != 8 * count:
            raise Unsealable(purpose)
        return struct.unpack(f">{count}q", plain)


@lru_cache(maxsize=8)
def sealer_for(key: bytes) -> Sealer:
    """One :class:`Sealer` per key (the cipher's set-up is done once)."""
    return Sealer(key)
