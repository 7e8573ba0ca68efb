"""The Python mirror of the store's keyword rule says what ``callbox_keyword_action`` says."""

from __future__ import annotations

import re

import asyncpg
import pytest

from callbox.model.vocabulary import OptOutAction
from callbox.providers.keywords import KEYWORD_ACTIONS, keyword_action

ASCII_TEXTS = [
    *KEYWORD_ACTIONS,
    *(word.lower() for word in KEYWORD_ACTIONS),
    "Stop.",
    " stop!! ",
    "\tSTART\r\n",
    "Unstop!",
    "stop please",
    "STOP ALL",
    "ARRET",
    "YES",
    "",
    "...",
    ".stop.",
]


async def test_ascii_texts_match_the_database(db: asyncpg.Connection) -> None:
    for text in ASCII_TEXTS:
        in_sql = await db.fetchval("SELECT callbox_keyword_action($1)", text)
        mirrored = keyword_action(text)
        assert (mirrored.value if mirrored else None) == in_sql, text


async def test_the_mirror_has_exactly_the_databases_keywords(db: asyncpg.Connection) -> None:
    source = await db.fetchval(
        "SELECT prosrc FROM pg_proc WHERE proname = 'callbox_keyword_action'"
    )
    in_sql = dict(re.findall(r"WHEN '([A-Z]+)' THEN '(OPT_OUT|OPT_IN)'", source))
    assert in_sql == {word: action.value for word, action in KEYWORD_ACTIONS.items()}


@pytest.mark.parametrize("text", ["\u017ftop", "STOP\u00a0", "Arr\u00eat"])
def test_outside_ascii_the_mirror_says_nothing(text: str) -> None:
    # A provider's own flag is then recorded rather than lost to a case-mapping difference.
    assert keyword_action(text) is None


def test_no_text_no_action() -> None:
    assert keyword_action(None) is None
    assert keyword_action("stop") is OptOutAction.OPT_OUT
