"""Sealing: a remembered token is the token sealing gives, for its purpose and values only."""

from __future__ import annotations

import os

import pytest

from callbox.sealing import Sealer, Unsealable


def test_remembered_tokens_are_the_tokens_sealing_gives() -> None:
    key = os.urandom(32)
    sealer, fresh = Sealer(key), Sealer(key)
    first = sealer.seal("message-id", 42)
    assert sealer.seal("message-id", 42) == first == fresh.seal("message-id", 42)
    # Purpose and every value are part of what is remembered.
    others = {
        sealer.seal("conversation-id", 42),
        sealer.seal("message-id", 43),
        sealer.seal("message-cursor", 42, 1),
        sealer.seal("message-cursor", 42, 2),
    }
    assert first not in others and len(others) == 4
    assert sealer.open("message-cursor", sealer.seal("message-cursor", 42, 2), 2) == (42, 2)
    assert fresh.open("message-id", first, 1) == (42,)
    with pytest.raises(Unsealable):
        fresh.open("conversation-id", first, 1)
    # Another key's sealer remembers nothing of this one's.
    assert Sealer(os.urandom(32)).seal("message-id", 42) != first
