"""The store's opt-out keyword rule, for providers that flag keywords themselves.

The store records a keyword opt-out for every inbound message whose text is a standard
keyword (``callbox_keyword_action`` in ``store/sql/callbox_keyword_action.sql``). Some
providers also say, on the inbound message, that it matched *their* keyword list (Twilio's
``OptOutType``, Plivo's ``MessageIntent``), which can be longer (``REVOKE``, ``YES``, other
languages). Their modules emit an opt-out of their own only for a text the store would not
already record, so one STOP is one row in the ledger. This mirrors the SQL function; a test
(``tests/providers/test_keywords.py``) compares the two on the database.
"""

from __future__ import annotations

from callbox.model.vocabulary import OptOutAction

KEYWORD_ACTIONS: dict[str, OptOutAction] = {
    "STOP": OptOutAction.OPT_OUT,
    "STOPALL": OptOutAction.OPT_OUT,
    "UNSUBSCRIBE": OptOutAction.OPT_OUT,
    "CANCEL": OptOutAction.OPT_OUT,
    "END": OptOutAction.OPT_OUT,
    "QUIT": OptOutAction.OPT_OUT,
    "START": OptOutAction.OPT_IN,
    "UNSTOP": OptOutAction.OPT_IN,
}

# SQL's btrim(text, E' \t\r\n.!') and upper().
_TRIMMED = " \t\r\n.!"


def keyword_action(text: str | None) -> OptOutAction | None:
    """What the store records for an inbound message with this text (``None``: nothing)."""
    if text is None or not text.isascii():
        # Outside ASCII, Python's and the database's upper() may differ (a long s in
        # "stop"): say nothing, so a provider's own flag is recorded rather than lost.
        return None
    return KEYWORD_ACTIONS.get(text.strip(_TRIMMED).upper())
