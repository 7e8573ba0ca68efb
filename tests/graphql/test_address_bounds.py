"""Absurd addresses given to the API are BAD_USER_INPUT naming the argument (issue 16, item 4).

Addresses are bounded before they are normalised or cached (docs/statuses.md, "Addresses"):
a 62 KB ``isOptedOut`` address or filter used to be normalised and kept in the cache.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.graphql.support import Api

LONG_NAME = "x" * 62_000
LONG_NUMBER = "+" + "4" * 40


async def bad_user_input(api: Api, query: str, variables: dict[str, Any]) -> str:
    document = await api.post(query, variables)
    assert document.get("errors"), document
    [error] = document["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    message: str = error["message"]
    return message


@pytest.mark.parametrize("address", [LONG_NAME, LONG_NUMBER, "a@" + "b" * 300])
async def test_is_opted_out_refuses_an_absurd_address(api: Api, address: str) -> None:
    message = await bad_user_input(
        api, "query($a: String!) { isOptedOut(address: $a) }", {"a": address}
    )
    assert message.startswith("address: ") and "too long" in message


@pytest.mark.parametrize(
    "query",
    [
        "query($a: String!) { messages(filter: {address: $a}) { totalCount } }",
        "query($a: String!) { optOuts(filter: {address: $a}) { totalCount } }",
    ],
)
async def test_address_filters_refuse_an_absurd_address(api: Api, query: str) -> None:
    message = await bad_user_input(api, query, {"a": LONG_NAME})
    assert message == "address: address of 62000 characters is too long (at most 254)"


async def test_a_long_but_sane_address_is_still_answered(api: Api) -> None:
    data = await api.query("query($a: String!) { isOptedOut(address: $a) }", {"a": "n" * 254})
    assert data == {"isOptedOut": False}


@pytest.mark.parametrize(("argument", "value"), [("to", LONG_NUMBER), ("from", LONG_NAME)])
async def test_record_outbound_refuses_an_absurd_address(
    api: Api, argument: str, value: str
) -> None:
    fields = {"receiver": "notify", "providerMessageId": "n-1", "to": "07700900123"}
    message = await bad_user_input(
        api,
        "mutation($input: RecordOutboundMessageInput!) {"
        " recordOutboundMessage(input: $input) { created } }",
        {"input": {**fields, argument: value}},
    )
    assert message.startswith(f"{argument}: ") and "too long" in message
