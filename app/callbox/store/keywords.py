"""Standard opt-out keywords: an inbound message whose whole text is one of them."""

from __future__ import annotations

from callbox.model.vocabulary import OptOutAction

_OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
_OPT_IN = frozenset({"START", "UNSTOP"})
_TRAILING = " \t\r\n.!"


def keyword_action(text: str | None) -> OptOutAction | None:
    """``OPT_OUT`` for "Stop", ``OPT_IN`` for "START!", ``None`` for anything else."""
    if not text:
        return None
    word = text.strip(_TRAILING).upper()
    if word in _OPT_OUT:
        return OptOutAction.OPT_OUT
    if word in _OPT_IN:
        return OptOutAction.OPT_IN
    return None
